// The `sluice feedback …` command group, shared by the join commands and the metrics commands
// (each file adds its subcommands to the one group, whichever registers first creates it).
import type { Command } from 'commander';

export function feedbackGroup(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'feedback') ??
    program.command('feedback').description('close the loop: join outcome events with logged predictions, live metrics, training data')
  );
}
