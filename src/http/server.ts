import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../config';
import { RequestTooSlowError } from '../errors';
import type { Logger } from '../logging';
import { CORRELATION_HEADER } from './correlationId';
import { answerError } from './errorMapping';

/**
 * The HTTP server and its limits on slow clients. Node's defaults let a connection that trickles
 * its headers live for up to 90 s and one whose body stalls for 300 s, and accept any number of
 * them. These bounds replace them:
 * - headers must arrive within HTTP_HEADERS_TIMEOUT_MS, the whole request within
 *   HTTP_REQUEST_TIMEOUT_MS (long: it is the time to upload the largest file on a slow link);
 * - a connection on which nothing moves for HTTP_IDLE_TIMEOUT_MS is closed when it is the client
 *   that owes us something: the rest of its request, or reading our answer. A slow but steady
 *   upload keeps moving; a request the service is still working on (a big upload being stored)
 *   or one whose body we hold back ourselves is not the client's fault and stays open;
 * - at most HTTP_MAX_CONNECTIONS connections at once; Node closes the ones beyond;
 * - a body must arrive at HTTP_MIN_BODY_BYTES_PER_SECOND at least (see enforceBodyRate).
 * And an answer sent before the body was read is followed by a lingering close (see linger).
 */

/** How often Node looks for requests over their header or request deadline (its default is 30 s). */
const DEADLINE_CHECK_MS = 1000;
const DROP_LOG_INTERVAL_MS = 60_000;

interface InFlight {
  req: IncomingMessage;
  res: ServerResponse;
}

/**
 * A full body buffer means we are not reading: a stall then is ours, not the client's. Not
 * isPaused(): a body read by async iteration (POST /api/events) always says it is paused, so its
 * stalls were never cut; and a paused body whose buffer is not full is one the client is slow to send.
 */
function bodyHeldBack(req: IncomingMessage): boolean {
  return req.readableLength >= req.readableHighWaterMark;
}

function clientIsStalling(current: InFlight | undefined): boolean {
  // Between requests, or before a request's headers are complete.
  if (current === undefined) return true;
  const { req, res } = current;
  if (!req.complete) return !bodyHeldBack(req);
  return res.writableNeedDrain;
}

/** Bounds on reading and dropping a body after answering early (nginx's lingering_time is 30 s). */
const LINGER_MS = 30_000;
const LINGER_MAX_BYTES = 64 * 1024 * 1024;

/**
 * After an answer sent while the body was still arriving (413 over the size cap, 429, 503, 401,
 * 403 before reading it), Node closes the connection once the answer is written. The bytes the
 * client is still sending then meet a closed socket, the kernel answers with a reset, and a client
 * that reads the answer only after sending its body (Node's fetch, browsers) loses it: `fetch
 * failed` instead of the 413. So the body is read and dropped until the client has sent it all or
 * stops, within LINGER_MS and LINGER_MAX_BYTES; the answer has already half-closed the connection.
 */
function linger(req: IncomingMessage, socket: Socket): void {
  // Node's close after a `Connection: close` answer (destroySoon) has sent the FIN and waits for the
  // answer to be flushed to destroy the socket; cancelled, the socket goes on reading.
  const destroy: unknown = Reflect.get(socket, 'destroy');
  for (const listener of socket.listeners('finish')) {
    if (listener === destroy) socket.off('finish', listener as () => void);
  }
  const closing = socket.writableEnded;
  let dropped = 0;
  const done = (): void => {
    clearTimeout(timer);
    req.off('data', count);
    req.off('end', done);
    // A kept-alive connection serves further requests: nothing of this one stays attached.
    socket.off('end', done);
    socket.off('close', done);
    if (closing) socket.destroy();
  };
  const timer = setTimeout(() => {
    socket.destroy();
  }, LINGER_MS).unref();
  const count = (chunk: Buffer): void => {
    dropped += chunk.length;
    if (dropped > LINGER_MAX_BYTES) socket.destroy();
  };
  // Without Connection: close, Node reads the rest itself to reuse the connection; this bounds it.
  req.on('data', count);
  req.once('end', done);
  socket.once('end', done);
  socket.once('close', done);
  req.resume();
}

/**
 * A body must arrive at `minBodyBytesPerSecond`, judged over windows of `bodyRateWindowMs` (the
 * first is the grace period): an upload holds one of MAX_CONCURRENT_UPLOADS slots, and a byte
 * every few seconds never trips the idle timeout. A window in which the server held the body back
 * is not judged. Too slow: 408, and the connection closes without lingering, so that no more of the
 * body reaches the route that is still reading it.
 */
function enforceBodyRate(
  req: IncomingMessage,
  res: ServerResponse,
  http: Config['http'],
  cut: WeakSet<IncomingMessage>,
  logger: Logger,
): void {
  const hasBody =
    req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (http.minBodyBytesPerSecond === 0 || !hasBody) return;
  const socket = req.socket;
  const needed = (http.minBodyBytesPerSecond * http.bodyRateWindowMs) / 1000;
  let from = socket.bytesRead;
  let heldBack = false;
  const held = (): void => {
    heldBack = true;
  };
  const stop = (): void => {
    clearInterval(timer);
    req.off('pause', held);
  };
  const timer = setInterval(() => {
    if (req.complete) {
      stop();
      return;
    }
    const arrived = socket.bytesRead - from;
    from = socket.bytesRead;
    const ours = heldBack || bodyHeldBack(req);
    heldBack = false;
    if (ours || arrived >= needed) return;
    stop();
    cut.add(req);
    if (res.headersSent) {
      socket.destroy();
      return;
    }
    const error = new RequestTooSlowError(
      `The request body arrived at ${Math.floor((arrived * 1000) / http.bodyRateWindowMs)} bytes/s, below ` +
        `the minimum of ${http.minBodyBytesPerSecond} bytes/s (HTTP_MIN_BODY_BYTES_PER_SECOND); ` +
        'send it again over a faster link',
    );
    // As errorMapping's rejection line; the id is the one the app echoed.
    logger.info('request rejected', {
      correlationId: res.getHeader(CORRELATION_HEADER),
      method: req.method,
      path: req.url?.split('?')[0],
      status: 408,
      code: error.code,
      reason: error.message,
    });
    res.setHeader('Connection', 'close');
    answerError(res, error);
  }, http.bodyRateWindowMs);
  req.on('pause', held);
  res.once('close', stop);
}

export function createBoundedServer(
  app: (req: IncomingMessage, res: ServerResponse) => void,
  http: Config['http'],
  logger: Logger,
): Server {
  const server = createServer(
    {
      maxHeaderSize: http.maxHeaderBytes,
      headersTimeout: http.headersTimeoutMs,
      requestTimeout: http.requestTimeoutMs,
      connectionsCheckingInterval: DEADLINE_CHECK_MS,
    },
    app,
  );
  server.maxConnections = http.maxConnections;

  const inFlight = new WeakMap<Socket, InFlight>();
  const tooSlow = new WeakSet<IncomingMessage>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    inFlight.set(socket, { req, res });
    res.once('close', () => {
      if (inFlight.get(socket)?.res === res) inFlight.delete(socket);
    });
    // Runs after Node's own 'finish' handler, which has by then ended the socket or begun reading
    // the rest of the body.
    res.once('finish', () => {
      if (!req.complete && !socket.destroyed && !tooSlow.has(req)) linger(req, socket);
    });
    enforceBodyRate(req, res, http, tooSlow, logger);
  });
  // With a listener here Node no longer closes idle sockets itself; this decides each case.
  server.timeout = http.idleTimeoutMs;
  server.on('timeout', (socket: Socket) => {
    if (clientIsStalling(inFlight.get(socket))) {
      socket.destroy();
      return;
    }
    // The timer fired once; arm it again so a stall that starts later is still seen.
    socket.setTimeout(http.idleTimeoutMs);
  });

  let dropped = 0;
  let lastDropLog = 0;
  server.on('drop', () => {
    dropped += 1;
    const now = Date.now();
    if (now - lastDropLog < DROP_LOG_INTERVAL_MS) return;
    lastDropLog = now;
    logger.warn('refusing connections over HTTP_MAX_CONNECTIONS', {
      maxConnections: http.maxConnections,
      dropped,
    });
    dropped = 0;
  });
  return server;
}
