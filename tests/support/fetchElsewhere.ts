import { execFile } from 'node:child_process';

/**
 * A fetch of a generated body run by another Node process. In the test's own process the server and
 * the client share one event loop, so the server's reads keep pace with the client's writes and an
 * answer sent before the body was read arrives anyway; across processes, as in real use, it may not.
 */
export interface ElsewhereReply {
  status: number;
  body: Record<string, unknown>;
}

const SCRIPT = `
const [url, contentType, size, how, fileName, prefix, fill] = process.argv.slice(1);
const bytes = Buffer.alloc(Number(size), fill);
bytes.write(prefix);
let body;
const headers = {};
if (how === 'form') {
  body = new FormData();
  body.append('file', new Blob([bytes], { type: 'text/csv' }), fileName);
} else {
  headers['Content-Type'] = contentType;
  let at = 0;
  body = how === 'length' ? bytes : new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(at, at + 65536));
      at += 65536;
    },
  });
}
fetch(url, { method: 'POST', headers, body, duplex: 'half' })
  .then(async (res) => console.log(JSON.stringify({ status: res.status, body: await res.json() })))
  .catch((error) => console.log(JSON.stringify({ status: 0, body: { fetchError: String(error), cause: String(error.cause) } })));
`;

/**
 * POSTs `size` bytes to `url` (`prefix`, then `fill` repeated): as the file of a multipart form
 * (`form`), or raw with a Content-Length (`length`) or chunked (`chunked`). A failed fetch is
 * status 0 with the error.
 */
export function fetchElsewhere(
  url: string,
  size: number,
  how: 'form' | 'length' | 'chunked',
  options: { contentType?: string; fileName?: string; prefix?: string; fill?: string } = {},
): Promise<ElsewhereReply> {
  const args = [
    '-e',
    SCRIPT,
    url,
    options.contentType ?? '',
    String(size),
    how,
    options.fileName ?? 'big.csv',
    options.prefix ?? '',
    options.fill ?? 'a',
  ];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { timeout: 120_000 }, (error, stdout) => {
      if (error) {
        reject(new Error(`the fetch process failed: ${error.message}`));
        return;
      }
      resolve(JSON.parse(stdout) as ElsewhereReply);
    });
  });
}
