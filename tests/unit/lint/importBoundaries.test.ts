import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');

/** A back-import planted at the end of a real file of each layer. */
const planted: { file: string; line: string }[] = [
  { file: 'src/events/eventLog.ts', line: "import '../projections/readModels';" },
  { file: 'src/commands/processBatch.ts', line: "import '../queries/getBatch';" },
  { file: 'src/commands/uploadBatch/uploadBatch.ts', line: "import '../../http/app';" },
  { file: 'src/projections/dailyMetrics.ts', line: "import '../commands/processBatch';" },
  { file: 'src/queries/getBatch.ts', line: "import '../workers/startWorkers';" },
  { file: 'src/workers/processChunk.ts', line: "import '../queries/getBatch';" },
  { file: 'src/http/batches.ts', line: "import '../workers/startWorkers';" },
  { file: 'src/projections/verify.ts', line: "import '../commands/processBatch';" },
  // The service never imports the local stack launcher.
  { file: 'src/rebuildProjections.ts', line: "import '../dev/withLocalStack';" },
  { file: 'src/http/batches.ts', line: "import '../../dev/stack';" },
];

/**
 * ESLint loads its (ESM) config in a process of its own: Jest's module system cannot import it.
 * Returns, per text, the messages of the boundary rule.
 */
function boundaryMessages(texts: { file: string; text: string }[]): string[][] {
  const script = `
    import { readFileSync } from 'node:fs';
    import { ESLint } from 'eslint';
    const texts = JSON.parse(readFileSync(0, 'utf8'));
    const eslint = new ESLint({ cwd: process.cwd() });
    const out = [];
    for (const { file, text } of texts) {
      const [result] = await eslint.lintText(text, { filePath: file });
      out.push(result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message));
    }
    process.stdout.write(JSON.stringify(out));
  `;
  // The texts go through stdin: as an argument they outgrow the kernel's limit for one (E2BIG).
  const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    input: JSON.stringify(texts),
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout) as string[][];
}

test('a back-import between layers fails the lint; the files as they are pass', () => {
  const originals = planted.map(({ file }) => ({ file, text: readFileSync(join(root, file), 'utf8') }));
  const withPlanted = planted.map(({ file, line }, i) => ({
    file,
    text: `${originals[i]?.text ?? ''}\n${line}\n`,
  }));
  const messages = boundaryMessages([...originals, ...withPlanted]);
  const clean = messages.slice(0, planted.length);
  const dirty = messages.slice(planted.length);
  expect(clean).toEqual(planted.map(() => []));
  for (const [i, found] of dirty.entries()) {
    expect({ file: planted[i]?.file, found: found.length }).toEqual({ file: planted[i]?.file, found: 1 });
  }
}, 300_000);
