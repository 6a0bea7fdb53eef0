// bench/api/hello_server.mjs: the "hello" baseline for bench/api/run — node's built-in HTTP server answering
// every request with the same bytes (a task's JSON as wasmq serves it, read from a file), on a free loopback
// port that it prints. What any HTTP server costs at this body size, with no routing, store or JSON work.
//
//   node bench/api/hello_server.mjs BODY.json      # prints port=N, serves until killed
import { createServer } from "node:http";
import { readFileSync } from "node:fs";

const body = readFileSync(process.argv[2]);
const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": body.length });
    res.end(body);
  });
});
server.listen(0, "127.0.0.1", () => console.log(`port=${server.address().port}`));
