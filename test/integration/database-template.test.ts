import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { createFromTemplate, isDataDirectory } from '../../src/db/pglite/database-template.mjs';
import { openPgliteDatabase } from '../../src/db/pglite/pglite-database.ts';

describe('a new embedded database is a copy of the template', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clinic-template-'));
  const template = join(dir, 'cache', 'template');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('when there is no template yet, then it is made (by a child process) and the data directory is a working copy of it', async () => {
    const dataDir = join(dir, 'first');
    await createFromTemplate(dataDir, template);
    expect(isDataDirectory(template)).toBe(true);
    expect(isDataDirectory(dataDir)).toBe(true);
    const db = openPgliteDatabase({ dataDir });
    try {
      await db.exec('create table t (id int)');
      await db.exec('insert into t values (1)');
      expect(await db.query('select count(*)::int as n from t')).toEqual([{ n: 1 }]);
    } finally {
      await db.close();
    }
    // The copy is the data directory's own: the template did not get the table.
    await createFromTemplate(join(dir, 'second'), template);
    const copy = openPgliteDatabase({ dataDir: join(dir, 'second') });
    try {
      expect(await copy.query("select to_regclass('public.t') as t")).toEqual([{ t: null }]);
    } finally {
      await copy.close();
    }
  });

  it('when the template exists, then it is copied, not made again', async () => {
    const before = statSync(join(template, 'PG_VERSION'));
    await createFromTemplate(join(dir, 'third'), template);
    expect(statSync(join(template, 'PG_VERSION')).ino).toBe(before.ino);
    expect(readFileSync(join(dir, 'third', 'PG_VERSION'), 'utf8')).toBe(readFileSync(join(template, 'PG_VERSION'), 'utf8'));
  });

  it('when DATA_DIR is an empty folder, then it is used', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    await createFromTemplate(empty, template);
    expect(isDataDirectory(empty)).toBe(true);
  });

  it('when DATA_DIR holds other files, then the start fails naming it and nothing of it is touched', async () => {
    const other = join(dir, 'documents');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'keep me');
    await expect(createFromTemplate(other, template)).rejects.toThrow(`DATA_DIR ${other} is not empty and holds no database`);
    expect(readFileSync(join(other, 'notes.txt'), 'utf8')).toBe('keep me');
  });
});
