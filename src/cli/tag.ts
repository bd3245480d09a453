// `sluice tag <ref> <tag>`, `sluice tag --delete <dataset> <tag>`, `sluice tag <dataset>` (list).
import type { Command } from 'commander';
import { parseRef } from '../core/ref.ts';
import { assertName } from '../core/names.ts';
import { NotFoundError } from '../core/errors.ts';
import { output, table, withProject } from './common.ts';

export function register(program: Command): void {
  program
    .command('tag <ref> [tag]')
    .description('name a version (tags move when set again); without a tag, list the tags')
    .option('--delete', 'remove the tag')
    .addHelpText('after', '\nExamples:\n  $ sluice tag ads@3 golden\n  $ sluice show ads@golden\n  $ sluice tag ads golden --delete')
    .action(async (refText: string, tag: string | undefined, opts: { delete?: boolean }, cmd: Command) => {
      await withProject(cmd, async (p, g) => {
        const ref = parseRef(refText);
        if (!tag) {
          const tags = await p.catalog.tags(ref.dataset);
          return output(g, tags, () => (tags.length ? table(tags.map((t) => [t.tag, `${ref.dataset}@${t.version}`]), ['tag', 'version']) : `${ref.dataset} has no tags`));
        }
        assertName(tag, 'tag');
        if (/^\d+$|^latest$/.test(tag)) throw new NotFoundError(`tag ${JSON.stringify(tag)} would shadow a version ref`, { hint: 'pick a name that is not a number or "latest"' });
        if (opts.delete) {
          const removed = await p.catalog.deleteTag(ref.dataset, tag);
          if (!removed) throw new NotFoundError(`tag ${ref.dataset}@${tag} does not exist`);
          return output(g, { dataset: ref.dataset, tag, deleted: true }, () => `removed tag ${ref.dataset}@${tag}`);
        }
        const m = await p.catalog.resolve(ref);
        await p.catalog.setTag(m.dataset, tag, m.version);
        output(g, { dataset: m.dataset, tag, version: m.version }, () => `${m.dataset}@${tag} → ${m.dataset}@${m.version}`);
      });
    });
}
