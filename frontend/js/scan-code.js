// The one place the frontend reads a code out of what was scanned, typed or pasted. Its twin is
// domain/core/codes.py `code_from_text`; both pass tests/checkin/scan_code_vectors.json.

/**
 * The code inside `text`: a bare code, its "<site>/s/<code>" URL (in any case; query and fragment ignored),
 * or a code typed in groups ("abcd efgh ...", "ABCD-EFGH-..."). Only ASCII letters and digits
 * are kept, lower-cased; "" when nothing is left.
 */
export function codeFromText(text) {
  let value = String(text ?? "");
  const at = Math.max(value.lastIndexOf("/s/"), value.lastIndexOf("/S/"));
  if (at >= 0) value = value.slice(at + 3);
  value = value.split(/[?#]/)[0];
  const segment = value.split("/").map(keep).find((part) => part !== "");
  return segment ?? "";
}

function keep(part) {
  return part.replace(/[^A-Za-z0-9]/g, "").toLowerCase();
}
