import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../config';
import type { Logger } from '../logging';

/**
 * The HTTP server and its limits on slow clients. Node's defaults let a connection that trickles
 * its headers live for up to 90 s and one whose body stalls for 300 s, and accept any number of
 * them. Three bounds replace them:
 * - headers must arrive within HTTP_HEADERS_TIMEOUT_MS, the whole request within
 *   HTTP_REQUEST_TIMEOUT_MS (long: it is the time to upload the largest file on a slow link);
 * - a connection on which nothing moves for HTTP_IDLE_TIMEOUT_MS is closed when it is the client
 *   that owes us something: the rest of its request, or reading our answer. A slow but steady
 *   upload keeps moving; a request the service is still working on (a big upload being stored)
 *   or one whose body we hold back ourselves is not the client's fault and stays open;
 * - at most HTTP_MAX_CONNECTIONS connections at once; Node closes the ones beyond.
 */

/** How often Node looks for requests over their header or request deadline (its default is 30 s). */
const DEADLINE_CHECK_MS = 1000;
const DROP_LOG_INTERVAL_MS = 60_000;

interface InFlight {
  req: IncomingMessage;
  res: ServerResponse;
}

function clientIsStalling(current: InFlight | undefined): boolean {
  // Between requests, or before a request's headers are complete.
  if (current === undefined) return true;
  const { req, res } = current;
  if (!req.complete) {
    // A paused or full body buffer means we are not reading: the stall is ours.
    const heldBack = req.isPaused() || req.readableLength >= req.readableHighWaterMark;
    return !heldBack;
  }
  return res.writableNeedDrain;
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
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    inFlight.set(req.socket, { req, res });
    res.once('close', () => {
      if (inFlight.get(req.socket)?.res === res) inFlight.delete(req.socket);
    });
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
