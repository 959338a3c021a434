// A background process: logs a line every few seconds until it is stopped.
const name = process.env.DEIS_APP || "node-express";
let ticks = 0;

function tick() {
  ticks += 1;
  console.log(`worker ${name} tick ${ticks}`);
}

tick();
const timer = setInterval(tick, 3000);
process.on("SIGTERM", () => {
  clearInterval(timer);
  console.log(`worker ${name} stopping`);
  process.exit(0);
});
