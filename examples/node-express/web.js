// A minimal Express app: the Node.js sample the builder's tests push.
const express = require("express");

const app = express();
const name = process.env.DEIS_APP || "node-express";

app.get("/", (req, res) => {
  res.type("text/plain").send(`Hello from Node.js ${name}\n`);
});

app.get("/healthz", (req, res) => {
  res.type("text/plain").send("ok\n");
});

const port = Number(process.env.PORT || 5000);
const server = app.listen(port, "0.0.0.0", () => {
  console.log(`web listening on 0.0.0.0:${port} (NODE_ENV=${process.env.NODE_ENV})`);
});
// Stopped on a deploy: finish the requests in flight, take no new ones, then exit.
process.on("SIGTERM", () => server.close(() => process.exit(0)));
