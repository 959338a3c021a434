#!/usr/bin/env node
// What bin/compile and bin/release need to know about the app's package.json, answered by the stack's
// node: JSON.parse, and the semver module npm itself uses (ranges mean what they mean to npm).
// One process answers all of compile's questions: a node start is a noticeable part of a warm build.
//
// usage: package_json.js inspect BUILD_DIR OUT_DIR
//          Validates package.json and checks engines against the stack (exit 1 with a message), then
//          writes into OUT_DIR: scripts (the build's lifecycle scripts the app has, one a line),
//          dev_dependencies ("yes" or "no"), cache_key (what an install's result depends on) and
//          pnpm_version (with a pnpm-lock.yaml: packageManager's pnpm, else by lockfile version).
//        package_json.js has-start BUILD_DIR
//          Exit 0 if scripts.start is a non-empty string.
// Messages go to stdout in the buildpack's format: ' !     ' for errors, 7 spaces for details.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const LIFECYCLE = ["heroku-prebuild", "preinstall", "install", "postinstall", "prepare", "heroku-postbuild", "build"];
const LOCKFILES = ["package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml"];
// Besides the lockfile, what decides the installed tree (npm install without a lockfile reads these;
// npm ci refuses a lockfile out of sync with them, so a change must not reuse the cache).
const INSTALL_FIELDS = ["dependencies", "devDependencies", "optionalDependencies", "peerDependencies",
                        "bundleDependencies", "bundledDependencies", "overrides", "resolutions", "workspaces",
                        "packageManager", "pnpm"];

function fail(message) {
  console.log(` !     ${message}`);
  process.exit(1);
}

// Line and column (1-based) of a character offset: node 18's parse errors give only the offset.
function lineColumn(text, offset) {
  const before = text.slice(0, offset).split("\n");
  return `line ${before.length}, column ${before[before.length - 1].length + 1}`;
}

function describe(value) {
  if (value === null) return "null";
  return Array.isArray(value) ? "an array" : `a ${typeof value}`;
}

function load(dir) {
  let text;
  try {
    text = fs.readFileSync(path.join(dir, "package.json"), "utf8");
  } catch (err) {
    fail(`package.json could not be read: ${err.message}`);
  }
  text = text.replace(/^\uFEFF/, ""); // npm accepts a byte order mark; so do we
  let data;
  try {
    data = JSON.parse(text);
  } catch (err) {
    const match = /at position (\d+)/.exec(err.message); // absent when the input ends early
    const where = lineColumn(text, match ? Number(match[1]) : text.length);
    fail(`package.json is not valid JSON: ${err.message} (${where})`);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    fail(`package.json must hold a JSON object, not ${describe(data)}`);
  }
  for (const field of ["scripts", "engines", "dependencies", "devDependencies", "optionalDependencies"]) {
    const value = data[field];
    if (value !== undefined && (value === null || typeof value !== "object" || Array.isArray(value))) {
      fail(`package.json: "${field}" must be an object, not ${describe(value)}`);
    }
  }
  return data;
}

// The package directory of a command on PATH (npm, yarnpkg): where its real script's package.json is.
function packageOf(command) {
  for (const dir of (process.env.PATH || "").split(path.delimiter)) {
    const candidate = path.join(dir || ".", command);
    if (!fs.existsSync(candidate)) continue;
    for (let d = path.dirname(fs.realpathSync(candidate)); d !== path.dirname(d); d = path.dirname(d)) {
      if (fs.existsSync(path.join(d, "package.json"))) return d;
    }
  }
  return null;
}

function versionOf(packageDir) {
  return packageDir ? JSON.parse(fs.readFileSync(path.join(packageDir, "package.json"), "utf8")).version : "none";
}

function engine(data, name) {
  const range = data.engines && data.engines[name];
  if (range !== undefined && typeof range !== "string") {
    fail(`package.json: engines.${name} must be a string (a semver range), not ${describe(range)}`);
  }
  return range;
}

function checkEngines(data, semver, nodeVersion, npmVersion) {
  const nodeRange = engine(data, "node");
  if (nodeRange !== undefined) {
    if (semver.validRange(nodeRange) === null) {
      fail(`package.json: engines.node ${JSON.stringify(nodeRange)} is not a valid semver range`);
    }
    if (!semver.satisfies(nodeVersion, nodeRange)) {
      fail(`package.json asks for Node.js ${JSON.stringify(nodeRange)} (engines.node), but the stack has ` +
           `Node.js ${nodeVersion}, the only one this buildpack uses`);
    }
    console.log(`       engines.node ${JSON.stringify(nodeRange)} is satisfied by Node.js ${nodeVersion}`);
  }
  // npm is not installed per app: say so when the app asked for another one, and go on.
  const npmRange = engine(data, "npm");
  if (npmRange !== undefined && semver.validRange(npmRange) !== null && !semver.satisfies(npmVersion, npmRange)) {
    console.log(`       warning: engines.npm ${JSON.stringify(npmRange)} is not satisfied by the stack's ` +
                `npm ${npmVersion}; building with it anyway`);
  }
}

function pnpmVersion(dir, data) {
  const wanted = typeof data.packageManager === "string" && /^pnpm@(\d+\.\d+\.\d+[^+]*)/.exec(data.packageManager);
  if (wanted) return wanted[1];
  const lock = fs.readFileSync(path.join(dir, "pnpm-lock.yaml"), "utf8");
  const match = /^lockfileVersion:\s*['"]?(\d+)/m.exec(lock);
  if (!match) fail("pnpm-lock.yaml has no lockfileVersion line: is it a pnpm lockfile?");
  // The newest pnpm major that writes this lockfile version.
  const major = { 5: "7", 6: "8", 9: "9" }[match[1]];
  if (!major) {
    fail(`pnpm-lock.yaml has lockfileVersion ${match[1]}, which this buildpack does not know: ` +
         `name the pnpm to use in package.json, e.g. "packageManager": "pnpm@9.15.0"`);
  }
  return major;
}

function inspect(dir, out) {
  const data = load(dir);
  const npmDir = packageOf("npm");
  if (!npmDir) fail("npm is not on PATH: the stack image needs Debian's npm package");
  const semver = require(require.resolve("semver", { paths: [npmDir] })); // npm's own semver
  const nodeVersion = process.version.replace(/^v/, "");
  const npmVersion = versionOf(npmDir);
  console.log(`-----> Using Node.js ${nodeVersion} and npm ${npmVersion} from the stack`);
  checkEngines(data, semver, nodeVersion, npmVersion);

  const scripts = data.scripts || {};
  const present = LIFECYCLE.filter((name) => typeof scripts[name] === "string" && scripts[name].trim() !== "");
  fs.writeFileSync(path.join(out, "scripts"), present.map((name) => `${name}\n`).join(""));
  const hasDev = data.devDependencies && Object.keys(data.devDependencies).length > 0;
  fs.writeFileSync(path.join(out, "dev_dependencies"), hasDev ? "yes\n" : "no\n");

  const lockfiles = LOCKFILES.filter((name) => fs.existsSync(path.join(dir, name)));
  if (lockfiles.includes("pnpm-lock.yaml")) fs.writeFileSync(path.join(out, "pnpm_version"), pnpmVersion(dir, data));

  const hash = crypto.createHash("sha256");
  hash.update(JSON.stringify({ node: nodeVersion, npm: npmVersion, yarn: versionOf(packageOf("yarnpkg")),
                               NODE_ENV: process.env.NODE_ENV || "" }));
  for (const name of lockfiles) hash.update(`\n${name}\n`).update(fs.readFileSync(path.join(dir, name)));
  const installScripts = Object.fromEntries(["preinstall", "install", "postinstall", "prepare"]
    .filter((name) => scripts[name] !== undefined).map((name) => [name, scripts[name]]));
  const fields = Object.fromEntries(INSTALL_FIELDS.filter((f) => data[f] !== undefined).map((f) => [f, data[f]]));
  hash.update(`\npackage.json\n${JSON.stringify({ installScripts, fields })}`);
  fs.writeFileSync(path.join(out, "cache_key"), `${hash.digest("hex")}\n`);
}

const [command, dir, out] = process.argv.slice(2);
if (command === "inspect" && dir && out) {
  inspect(dir, out);
} else if (command === "has-start" && dir) {
  const start = (load(dir).scripts || {}).start;
  process.exit(typeof start === "string" && start.trim() !== "" ? 0 : 1);
} else {
  console.error("usage: package_json.js inspect BUILD_DIR OUT_DIR | has-start BUILD_DIR");
  process.exit(64);
}
