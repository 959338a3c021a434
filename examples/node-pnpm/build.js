// The build script: uses a dev dependency (gone from the slug afterwards) to write build/info.txt.
const fs = require("fs");
const isNumber = require("is-number");

fs.mkdirSync("build", { recursive: true });
fs.writeFileSync("build/info.txt", `built with a dev dependency: ${isNumber(42)}\n`);
