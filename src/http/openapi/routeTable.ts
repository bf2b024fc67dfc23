import type { RouteConfig } from '@asteasolutions/zod-to-openapi';
import type { RequestHandler, Router } from 'express';
import type { RouteParameters } from 'express-serve-static-core';
import type { SharedResponseName } from './components';

/**
 * One HTTP route as the OpenAPI document shows it: its parameters and bodies as the zod schemas the
 * handler validates with and types its answers by. Routers mount their handlers with `mount`, which
 * takes the path from here, so the documented path is the one served; `tests/http/openapi.test.ts`
 * checks that every mounted route is in the document.
 */
export type DocumentedRoute<Path extends string = string> = Omit<RouteConfig, 'method' | 'path'> & {
  method: 'get' | 'post';
  /** The Express path (`/api/batches/:id`); the document writes it `/api/batches/{id}`. */
  path: Path;
};

/** Declares a route; the generic keeps the path literal, so handlers see its parameters typed. */
export function documentedRoute<Path extends string>(route: DocumentedRoute<Path>): DocumentedRoute<Path> {
  return route;
}

/** Mounts handlers (middleware first) at the route's method and path. */
export function mount<Path extends string>(
  router: Router,
  route: DocumentedRoute<Path>,
  ...handlers: RequestHandler<RouteParameters<Path>>[]
): void {
  router[route.method](route.path, ...(handlers as RequestHandler[]));
}

/** `/api/batches/:id` -> `/api/batches/{id}` */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** A response defined once in `components.responses` (the shared error answers). */
export function sharedResponse(name: SharedResponseName): { $ref: string } {
  return { $ref: `#/components/responses/${name}` };
}
