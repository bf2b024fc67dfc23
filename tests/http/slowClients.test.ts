import { connect, type Socket } from 'node:net';
import { filePartHeader, multipartEnd, streamUpload } from '../support/rawUpload';
import { startTestService, type TestService } from '../support/testService';
import { csvOfRows, uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';

const IDLE_MS = 3000;
/** Generous against the configured timeouts: the machine is loaded, but Node's defaults are 60-300 s. */
const CUT_OFF_WITHIN_MS = 30_000;

function openSocket(baseUrl: string): Promise<Socket> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Resolves once the server has closed `socket`; `keepWriting` is sent now and then meanwhile. */
function closedByServer(socket: Socket, keepWriting?: () => string): Promise<void> {
  return new Promise((resolve) => {
    const timer = keepWriting
      ? setInterval(() => {
          if (!socket.destroyed) socket.write(keepWriting());
        }, 300)
      : undefined;
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearInterval(timer);
      resolve();
    });
  });
}

async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what}: still open after ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

describe('slow clients', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({
      workers: false,
      env: {
        HTTP_HEADERS_TIMEOUT_MS: '2000',
        HTTP_IDLE_TIMEOUT_MS: String(IDLE_MS),
        HTTP_REQUEST_TIMEOUT_MS: '120000',
        // Far below the steady upload's pace, even on a loaded machine.
        HTTP_MIN_BODY_BYTES_PER_SECOND: '100',
      },
    });
  });
  afterAll(async () => {
    await service.stop();
  });

  it('cuts off a client that never finishes its headers, even if it trickles them', async () => {
    const socket = await openSocket(service.baseUrl);
    socket.write('POST /api/uploads HTTP/1.1\r\nHost: ems\r\nX-Slow: ');
    await within(
      CUT_OFF_WITHIN_MS,
      'trickled headers',
      closedByServer(socket, () => 'a'),
    );
  });

  it('cuts off an upload whose body stalls', async () => {
    const socket = await openSocket(service.baseUrl);
    socket.write(
      'POST /api/uploads HTTP/1.1\r\nHost: ems\r\nContent-Type: multipart/form-data; boundary=ems-test-boundary\r\n' +
        `Content-Length: ${1024 * 1024}\r\n\r\n`,
    );
    socket.write(filePartHeader());
    socket.write(csvOfRows(100));
    await within(CUT_OFF_WITHIN_MS, 'stalled body', closedByServer(socket));
  });

  it('cuts off a POST /api/events body that stalls (read by async iteration, it looked paused by us)', async () => {
    const socket = await openSocket(service.baseUrl);
    socket.write(
      'POST /api/events HTTP/1.1\r\nHost: ems\r\nContent-Type: application/x-ndjson\r\n' +
        `Content-Length: ${1024 * 1024}\r\n\r\n`,
    );
    socket.write('{"userId":"u1","eventType":"click","timestamp":"2024-01-15T10:00:00Z"}\n');
    await within(CUT_OFF_WITHIN_MS, 'stalled events body', closedByServer(socket));
  });

  it('lets a slow but steady upload finish, long after the idle timeout', async () => {
    const rows = Buffer.from(csvOfRows(400));
    const pieces = 40;
    const size = Math.ceil(rows.length / pieces);
    const slices = Array.from({ length: pieces }, (_, i) => rows.subarray(i * size, (i + 1) * size));
    const started = Date.now();
    const reply = await streamUpload(service.baseUrl, [filePartHeader(), ...slices, multipartEnd], {
      pauseMs: 150,
    });
    expect(reply).toMatchObject({ status: 201, body: { totalEvents: 400 } });
    // The point of the test: the body took longer than the idle timeout, yet nothing cut it off.
    expect(Date.now() - started).toBeGreaterThan(IDLE_MS);
  });
});

describe('the connection cap', () => {
  let service: TestService;

  beforeAll(async () => {
    // Every timeout far beyond CUT_OFF_WITHIN_MS, so only the cap can close the fourth connection
    // in time (with the defaults, the 20 s header timeout closed it too, and the test could not fail).
    service = await startTestService({
      workers: false,
      env: {
        HTTP_MAX_CONNECTIONS: '3',
        HTTP_HEADERS_TIMEOUT_MS: '300000',
        HTTP_IDLE_TIMEOUT_MS: '300000',
        HTTP_REQUEST_TIMEOUT_MS: '600000',
      },
    });
  });
  afterAll(async () => {
    await service.stop();
  });

  it('refuses connections over HTTP_MAX_CONNECTIONS and serves again once they close', async () => {
    const held = await Promise.all([1, 2, 3].map(() => openSocket(service.baseUrl)));
    // A raw socket, not fetch: its pooled client may wait on a connection the server dropped.
    const fourth = await openSocket(service.baseUrl).then(
      (socket) =>
        new Promise<string>((resolve) => {
          const timer = setTimeout(() => {
            socket.destroy();
            resolve('still open');
          }, CUT_OFF_WITHIN_MS);
          socket.once('close', () => {
            clearTimeout(timer);
            resolve('refused');
          });
          socket.resume();
        }),
      () => 'refused',
    );
    expect(fourth).toBe('refused');
    for (const socket of held) socket.destroy();
    const status = await waitFor(
      () =>
        fetch(`${service.baseUrl}/health`, { signal: AbortSignal.timeout(10_000) }).then(
          (r) => r.status,
          () => 0,
        ),
      (s) => s === 200,
      CUT_OFF_WITHIN_MS,
      'a connection to be accepted again',
    );
    expect(status).toBe(200);
  });
});

/** The start of a CSV upload or of a POST /api/events body, then a byte now and then. */
const TRICKLES = {
  upload: {
    head: 'POST /api/uploads HTTP/1.1\r\nHost: ems\r\nContent-Type: multipart/form-data; boundary=ems-test-boundary\r\n',
    start: () => Buffer.concat([filePartHeader(), Buffer.from('userId,eventType,timestamp\n')]),
    byte: 'u',
  },
  events: {
    head: 'POST /api/events HTTP/1.1\r\nHost: ems\r\nContent-Type: application/x-ndjson\r\n',
    start: () => Buffer.from('{"userId":"u1","eventType":"click","timestamp":"2024-01-15T10:00:00Z"}\n'),
    byte: '\n',
  },
};

/** Sends the start of a body, then one byte every `everyMs`; resolves with what the server answered. */
function trickle(
  baseUrl: string,
  kind: keyof typeof TRICKLES,
  everyMs: number,
): Promise<{ status: number; body: string }> {
  const { head, start, byte } = TRICKLES[kind];
  return openSocket(baseUrl).then(
    (socket) =>
      new Promise((resolve) => {
        let answer = '';
        socket.setEncoding('utf8');
        socket.on('data', (text: string) => (answer += text));
        socket.on('error', () => undefined);
        socket.write(`${head}Content-Length: ${1024 * 1024}\r\n\r\n`);
        socket.write(start());
        const timer = setInterval(() => {
          if (!socket.destroyed) socket.write(byte);
        }, everyMs);
        socket.once('close', () => {
          clearInterval(timer);
          const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
          resolve({ status, body: answer.slice(answer.indexOf('\r\n\r\n') + 4) });
        });
      }),
  );
}

describe('the minimum body rate', () => {
  let service: TestService;
  const SLOTS = 2;

  beforeAll(async () => {
    // The idle and request timeouts far beyond CUT_OFF_WITHIN_MS: a byte every 500 ms never trips
    // them, so only the minimum rate can free the slots in time.
    service = await startTestService({
      workers: false,
      env: {
        MAX_CONCURRENT_UPLOADS: String(SLOTS),
        HTTP_MIN_BODY_BYTES_PER_SECOND: '200',
        HTTP_BODY_RATE_WINDOW_MS: '2000',
        HTTP_IDLE_TIMEOUT_MS: '300000',
        HTTP_REQUEST_TIMEOUT_MS: '600000',
      },
    });
  });
  afterAll(async () => {
    await service.stop();
  });

  it('cuts trickling uploads with 408 and frees their slots for a normal upload', async () => {
    // Two trickling uploads hold both upload slots; an event post holds none, and is cut all the same.
    const trickles = (['upload', 'upload', 'events'] as const).map((kind) =>
      trickle(service.baseUrl, kind, 500),
    );
    const answers = await within(CUT_OFF_WITHIN_MS, 'trickling uploads', Promise.all(trickles));
    for (const answer of answers) {
      expect(answer.status).toBe(408);
      expect(JSON.parse(answer.body)).toMatchObject({
        error: 'RequestTimeout',
        message: expect.stringMatching(/HTTP_MIN_BODY_BYTES_PER_SECOND/) as unknown,
      });
    }
    const reply = await uploadCsv(service.baseUrl, csvOfRows(10));
    expect(reply).toMatchObject({ status: 201, body: { totalEvents: 10 } });
  });
});
