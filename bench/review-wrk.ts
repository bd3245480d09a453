// HTTP load for bench/review with wrk (Debian's, C): 8 connections, each with its own reviewer
// token. Node clients (fetch, node:http) cost more CPU per request than the server's claim does,
// and on a 2-core machine shared with the server they, not the server, set the rate; wrk's cost
// is small. Each connection writes the item ids it was handed to a file, so the caller can check
// that no item went out twice.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface WrkResult {
  /** completed requests and their rate */
  requests: number;
  rate: number;
  /** item ids in the 200 answers (when `ids` was asked for), in no particular order */
  ids: number[];
  /** answers other than 200 */
  failed: number;
}

export function haveWrk(): boolean {
  return existsSync('/usr/bin/wrk') || existsSync('/usr/local/bin/wrk');
}

const lua = (s: string) => JSON.stringify(s); // a JSON string is a valid Lua string for these values

/** Runs wrk for `seconds` against `url + path`, one connection and thread per token. */
export async function wrk(opts: { url: string; path: string; method: 'GET' | 'POST'; body?: string; tokens: string[]; seconds: number; dir: string; ids: boolean }): Promise<WrkResult> {
  rmSync(opts.dir, { recursive: true, force: true });
  mkdirSync(opts.dir, { recursive: true });
  const script = join(opts.dir, 'load.lua');
  writeFileSync(
    script,
    `local tokens = {${opts.tokens.map(lua).join(', ')}}
local n = 0
function setup(thread) n = n + 1; thread:set("idx", n) end
function init(args)
  wrk.method = ${lua(opts.method)}
  ${opts.body !== undefined ? `wrk.body = ${lua(opts.body)}; wrk.headers["Content-Type"] = "application/json"` : ''}
  wrk.headers["Authorization"] = "Bearer " .. tokens[idx]
  req = wrk.format()
  out = io.open(${lua(opts.dir)} .. "/ids-" .. idx .. ".txt", "w")
  out:setvbuf("line")
end
function request() return req end
function response(status, headers, body)
  if status ~= 200 then out:write("E", status, "\\n") return end
  ${opts.ids ? `local id = string.match(body, '^{"items":%[{"id":(%d+)'); if id then out:write(id, "\\n") end` : ''}
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d\\n", summary.requests, summary.duration))
end
`,
  );
  const out = await new Promise<string>((res, rej) =>
    execFile('wrk', ['-t', String(opts.tokens.length), '-c', String(opts.tokens.length), '-d', `${opts.seconds}s`, '-s', script, opts.url + opts.path], (e, stdout, stderr) =>
      e ? rej(new Error(`wrk failed: ${e.message} ${stderr}`)) : res(stdout),
    ),
  );
  const m = /RESULT (\d+) (\d+)/.exec(out);
  if (!m) throw new Error(`wrk printed no result:\n${out}`);
  const requests = Number(m[1]);
  const ids: number[] = [];
  let failed = 0;
  for (let i = 1; i <= opts.tokens.length; i++) {
    const f = join(opts.dir, `ids-${i}.txt`);
    if (!existsSync(f)) continue;
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      if (line.startsWith('E')) failed++;
      else if (line) ids.push(Number(line));
    }
  }
  rmSync(opts.dir, { recursive: true, force: true }); // the script holds tokens
  return { requests, rate: requests / (Number(m[2]) / 1e6), ids, failed };
}
