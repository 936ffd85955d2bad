import type { Command } from 'commander';
import { check, codes, KvcaskError } from '../lib/index.js';
import { globals, progressBar, stdout } from './context.js';
import { interruptSignal } from './interrupt.js';

async function checkCommand(_options: unknown, command: Command): Promise<void> {
  const { dir, json } = globals(command);
  const bar = progressBar(command, 'check', 'bytes');
  let report;
  try {
    report = await check(dir, { signal: interruptSignal(), onProgress: (p) => bar.update(p.bytes, p.totalBytes) });
  } catch (err) {
    bar.stop();
    throw err;
  }
  bar.finish(report.bytes, report.bytes);
  if (json) {
    await stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const { dataFiles, hintFiles, indexFiles, records, bytes } = report;
    const lines = [`checked ${report.dir}: ${dataFiles} data file(s), ${hintFiles} hint file(s), ${indexFiles} index file(s), ${records} record(s), ${bytes} bytes`];
    for (const d of report.damaged) lines.push(`damaged ${d.file} at offset ${d.offset}, ${d.length} bytes (${d.kind})`);
    if (report.ok) lines.push('ok');
    await stdout.write(`${lines.join('\n')}\n`);
  }
  // Damage is a data error: the caller learns of it from the exit code, with the usual message on stderr.
  if (!report.ok) throw new KvcaskError(codes.CORRUPTION, `${report.damaged.length} damaged range(s) in ${report.dir}`);
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('verify every checksum of every data, segment, hint and index file (exit 2 if anything is damaged); takes the store\'s lock')
    .action(checkCommand);
}
