// The verify.* messages: Simplified Chinese, the default language.
// ../en/verify.js has the same keys (tests/app/test_catalogues.py).
export default {
  "verify.heading": "志愿服务时长证明核验",
  "verify.valid": "✔ 证明有效",
  "verify.revoked": "✘ 此证明已被开具单位撤销",
  "verify.unknown": "查无此证明：核验码不存在，请核对二维码或链接。",
  "verify.failed": "暂时无法核验，请稍后重试。",
  "verify.number": "证明编号",
  "verify.name": "志愿者",
  "verify.hours": "累计志愿时长",
  "verify.issuer": "开具单位",
  "verify.date": "开具日期",
};
