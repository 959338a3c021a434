// A web process on node's own http module: answers with what the build script wrote.
const fs = require("fs");
const http = require("http");
const ms = require("ms");

const name = process.env.DEIS_APP || "node-yarn";
const built = fs.readFileSync(`${__dirname}/build/info.txt`, "utf8");
const started = Date.now();

http.createServer((req, res) => {
  res.writeHead(200, { "Content-Type": "text/plain" });
  res.end(`Hello from Node.js ${name} (yarn), ${built.trim()}, up ${ms(Date.now() - started + 1000)}\n`);
}).listen(Number(process.env.PORT || 5000), "0.0.0.0");
