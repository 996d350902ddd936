import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, sep } from 'node:path';
import { preProcessFile } from 'typescript';

// No two top-level folders of src/ import each other, directly or around a longer loop (issue
// 14). The files directly in src/ (app.module.ts, main.ts, ...) are the folder '.'. Type-only
// imports count: a cycle of types is still a cycle a reader has to untangle.

/** For each folder, the folders it imports, each with one import that shows the edge. */
type FolderGraph = Map<string, Map<string, string>>;

/** Every .ts file under `dir`, as [path relative to dir with '/', text]. */
function readTree(dir: string): [string, string][] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => [file.split(sep).join('/'), readFileSync(join(dir, file), 'utf8')]);
}

function folderGraph(files: [string, string][]): FolderGraph {
  const folders = new Set(
    files
      .map(([file]) => file.split('/'))
      .filter((p) => p.length > 1)
      .map((p) => p[0]),
  );
  const folderOf = (path: string): string => {
    const [first, ...rest] = path.split('/');
    return rest.length > 0 || folders.has(first) ? first : '.';
  };
  const graph: FolderGraph = new Map();
  for (const [file, text] of files) {
    const from = folderOf(file);
    for (const { fileName } of preProcessFile(text, true, true).importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = posix.normalize(posix.join(posix.dirname(file), fileName));
      if (target.startsWith('..')) continue; // outside src/
      const to = folderOf(target);
      if (to === from) continue;
      const edges = graph.get(from) ?? new Map<string, string>();
      if (!edges.has(to)) edges.set(to, `${file} imports ${fileName}`);
      graph.set(from, edges);
    }
  }
  return graph;
}

/** A cycle as the folders along it, the first repeated at the end; undefined when there is none. */
function findCycle(graph: ReadonlyMap<string, Iterable<string>>): string[] | undefined {
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (node: string): string[] | undefined => {
    path.push(node);
    for (const next of [...(graph.get(node) ?? [])].sort()) {
      if (path.includes(next)) return [...path.slice(path.indexOf(next)), next];
      if (done.has(next)) continue;
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    done.add(node);
    return undefined;
  };
  for (const node of [...graph.keys()].sort()) {
    const cycle = done.has(node) ? undefined : visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

/** The cycle of the folder graph with the import behind each step, or undefined. */
function folderCycle(files: [string, string][]): string | undefined {
  const graph = folderGraph(files);
  const cycle = findCycle(new Map([...graph].map(([folder, edges]) => [folder, edges.keys()])));
  return cycle
    ?.slice(1)
    .map((to, i) => `${cycle[i]} -> ${to} (${graph.get(cycle[i])?.get(to)})`)
    .join('\n');
}

describe('architecture', () => {
  it('finds a cycle around three folders, and none once an edge is gone', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c', 'd']],
      ['c', ['a']],
      ['d', []],
    ]);
    expect(findCycle(graph)).toEqual(['a', 'b', 'c', 'a']);
    expect(findCycle(new Map([...graph, ['c', ['d']]]))).toBeUndefined();
  });

  it('counts type-only, re-exported and dynamic imports, and the files directly in src/', () => {
    const cycle = (importer: string) =>
      folderCycle([
        ['app.module.ts', "import { AdminModule } from './admin/admin.module';"],
        ['admin/admin.module.ts', "import { Thing } from '../common/thing';"],
        ['common/thing.ts', importer],
      ]);
    expect(cycle("import type { AdminModule } from '../admin/admin.module';")).toBe(
      [
        'admin -> common (admin/admin.module.ts imports ../common/thing)',
        'common -> admin (common/thing.ts imports ../admin/admin.module)',
      ].join('\n'),
    );
    expect(cycle("export * from '../admin';")).toContain('common -> admin');
    expect(cycle("const m = import('../app.module');")).toContain('common -> .');
    expect(cycle("import { x } from '@nestjs/common'; import '../../outside';")).toBeUndefined();
  });

  it('has no import cycle between the top-level folders of src/', () => {
    expect(folderCycle(readTree(__dirname))).toBeUndefined();
  });
});
