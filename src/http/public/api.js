// @ts-check
/**
 * Talks to the service's JSON API (same origin). Every failure becomes an ApiError whose message a
 * person can act on; the raw status and body stay available to callers that show more detail.
 */
export class ApiError extends Error {
  /**
   * @param {number} status 0 when no answer came
   * @param {unknown} body the parsed JSON body, or null
   * @param {string} message
   */
  constructor(status, body, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
  }
}

/**
 * @param {string} text
 * @returns {unknown}
 */
function parseJson(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * A field of a JSON object body.
 * @param {unknown} body
 * @param {string} key
 * @returns {unknown}
 */
export function field(body, key) {
  return typeof body === 'object' && body !== null
    ? /** @type {Record<string, unknown>} */ (body)[key]
    : undefined;
}

/** @param {unknown} body */
function serverMessage(body) {
  const message = field(body, 'message');
  return typeof message === 'string' ? message : '';
}

/**
 * @param {unknown} body
 * @param {string | null} retryAfterHeader
 * @returns {number | null}
 */
function retrySeconds(body, retryAfterHeader) {
  const retryAfter = field(body, 'retryAfter');
  if (typeof retryAfter === 'number' && Number.isFinite(retryAfter)) return retryAfter;
  const header = Number(retryAfterHeader);
  return Number.isFinite(header) && header > 0 ? header : null;
}

/**
 * Words for a failed request. `notFound` says what a 404 means for this particular call
 * (an unknown batch, or a server without that part of the API).
 */
/**
 * @typedef {{ notFound?: string }} FailureWords
 * @param {number} status
 * @param {unknown} body
 * @param {string | null} retryAfterHeader
 * @param {FailureWords} [words]
 * @returns {string}
 */
export function describeFailure(status, body, retryAfterHeader, { notFound } = {}) {
  const said = serverMessage(body);
  const wait = retrySeconds(body, retryAfterHeader);
  const waitWords = wait ? `Try again in ${wait} second${wait === 1 ? '' : 's'}.` : 'Try again in a minute.';
  switch (true) {
    case status === 0:
      return 'The server could not be reached, or it closed the connection. Check that it is running and try again.';
    case status === 400:
      return said || 'The server did not accept the request (400).';
    case status === 404:
      return `${notFound ?? 'Not found.'}${said ? ` (The server said: ${said})` : ''}`;
    case status === 413:
      return 'The file is too large: the server refused it (413). Split it into smaller CSV files and upload them one at a time.';
    case status === 429:
      return `Too many uploads in a short time: the server limits how many files one address may upload per minute (429). ${waitWords}`;
    case status === 503:
      return `The service is temporarily unavailable because a database or queue it needs is not answering (503). ${waitWords}`;
    case status >= 500:
      return `The server failed to handle the request (${status}). Try again; if it keeps failing, the server logs say why.`;
    default:
      return `${said || 'The request failed'} (${status}).`;
  }
}

/**
 * @param {'GET' | 'POST'} method
 * @param {string} url
 * @param {FailureWords} [options]
 * @param {{ headers?: Record<string, string>, json?: unknown }} [send] extra headers (the admin key) and a JSON body
 * @returns {Promise<{ status: number, body: unknown }>}
 */
export async function requestJson(method, url, options = {}, send = {}) {
  let response;
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json', ...send.headers };
  if (send.json !== undefined) headers['Content-Type'] = 'application/json';
  try {
    response = await fetch(url, {
      method,
      headers,
      body: send.json === undefined ? undefined : JSON.stringify(send.json),
    });
  } catch {
    throw new ApiError(0, null, describeFailure(0, null, null, options));
  }
  const body = parseJson(await response.text());
  if (!response.ok) {
    const message = describeFailure(response.status, body, response.headers.get('Retry-After'), options);
    throw new ApiError(response.status, body, message);
  }
  return { status: response.status, body };
}

/**
 * Uploads with XMLHttpRequest because fetch reports no upload progress. Resolves with the answer
 * whatever its status; status 0 means the request never got one.
 */
/**
 * @typedef {{ status: number, body: unknown, retryAfter: string | null }} UploadAnswer
 * @param {string} url
 * @param {File} file
 * @param {(loaded: number, total: number) => void} onProgress
 * @param {Record<string, string>} [fields] upload options, sent before the file (the server reads them first)
 * @returns {Promise<UploadAnswer>}
 */
export function uploadFile(url, file, onProgress, fields = {}) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    });
    xhr.addEventListener('load', () => {
      resolve({
        status: xhr.status,
        body: parseJson(xhr.responseText),
        retryAfter: xhr.getResponseHeader('Retry-After'),
      });
    });
    const failed = () => {
      resolve({ status: 0, body: null, retryAfter: null });
    };
    xhr.addEventListener('error', failed);
    xhr.addEventListener('abort', failed);
    xhr.addEventListener('timeout', failed);
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    form.append('file', file, file.name);
    xhr.send(form);
  });
}
