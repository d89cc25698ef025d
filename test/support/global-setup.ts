import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { TestProject } from 'vitest/node';

import { buildKnowledgeFixture } from './knowledge-fixture.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    knowledgeFixtures: string;
  }
}

/** Builds the two knowledge fixtures once per test run (see knowledge-fixture.ts). */
export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'clinic-fixtures-'));
  for (const kind of ['offline', 'embedded'] as const) writeFileSync(join(dir, `${kind}.tar`), await buildKnowledgeFixture(kind));
  project.provide('knowledgeFixtures', dir);
  return () => rmSync(dir, { recursive: true, force: true });
}
