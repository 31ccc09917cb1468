// The friendly 404 page only needs the header and its translations.
import { initPage } from "./ui.js";

initPage({ nav: false });
