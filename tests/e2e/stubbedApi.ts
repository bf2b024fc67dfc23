import type { Browser, Page, Route } from 'playwright-core';
import { watchProblems } from './pageChecks';

/**
 * For the few browser tests whose API answer cannot be produced for real without a race (see the
 * comment at each use): the real app serves the page, and the browser answers GET /api/batches and
 * GET /api/metrics with bodies shaped like the real routes' (src/http/batches.ts, metrics.ts).
 * Everything else runs against the real service.
 */
export interface BatchBody {
  batchId: string;
  fileName: string;
  totalEvents: number;
  processedEvents: number;
  status: string;
  uploadedAt: string;
  processedAt: string | null;
  failedReason: string | null;
  progress: number;
}

export interface ApiState {
  batchesGets: URL[];
  metricsGets: URL[];
  batchList: () => { batches: BatchBody[]; nextCursor: string | null };
  metricsFor: (date: string) => { status: number; body: unknown };
}

export function newApiState(): ApiState {
  return {
    batchesGets: [],
    metricsGets: [],
    batchList: () => ({ batches: [], nextCursor: null }),
    metricsFor: (date) => ({ status: 200, body: { date, metrics: [] } }),
  };
}

export function batch(
  id: string,
  status: string,
  processed: number,
  total: number,
  extra: Partial<BatchBody> = {},
): BatchBody {
  return {
    batchId: id,
    fileName: `${id}.csv`,
    totalEvents: total,
    processedEvents: processed,
    status,
    uploadedAt: '2024-01-15T10:00:00.000Z',
    processedAt: status === 'completed' ? '2024-01-15T10:05:00.000Z' : null,
    failedReason: null,
    progress: total === 0 ? 0 : Math.round((100 * processed) / total),
    ...extra,
  };
}

export async function json(
  route: Route,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  await route.fulfill({ status, contentType: 'application/json', headers, body: JSON.stringify(body) });
}

/** Opens the page with GET /api/batches and GET /api/metrics answered from `api` (read at call time). */
export async function openStubbed(
  browser: Browser,
  baseUrl: string,
  api: ApiState,
  { width = 1280, height = 900, allowStatuses = [] as number[] } = {},
): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width, height } });
  const problems = watchProblems(page, allowStatuses);
  await page.route('**/api/batches?*', async (route) => {
    api.batchesGets.push(new URL(route.request().url()));
    await json(route, 200, api.batchList());
  });
  await page.route('**/api/metrics?*', async (route) => {
    const url = new URL(route.request().url());
    api.metricsGets.push(url);
    const answer = api.metricsFor(url.searchParams.get('date') ?? '');
    await json(route, answer.status, answer.body);
  });
  await page.goto(`${baseUrl}/`);
  await page.waitForSelector('body[data-ready="true"]');
  return { page, problems };
}
