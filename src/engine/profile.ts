// Phase timings on stderr when SLUICE_PROFILE is set: where a task's time goes, as wall seconds and
// process CPU seconds (all threads, so DuckDB's and ONNX Runtime's work counts too).
export interface PhaseClock {
  lap(phase: string): void;
  report(what: string): void;
}

export function phaseClock(on = Boolean(process.env.SLUICE_PROFILE)): PhaseClock {
  const spent = new Map<string, { wall: number; cpu: number }>();
  let t = performance.now();
  let c = process.cpuUsage();
  return {
    lap(phase) {
      if (!on) return;
      const now = performance.now();
      const cpu = process.cpuUsage(c);
      const s = spent.get(phase) ?? { wall: 0, cpu: 0 };
      s.wall += now - t;
      s.cpu += (cpu.user + cpu.system) / 1000;
      spent.set(phase, s);
      t = now;
      c = process.cpuUsage();
    },
    report(what) {
      if (on) process.stderr.write(`${what}: ${[...spent].map(([k, v]) => `${k} ${(v.wall / 1000).toFixed(3)} s (cpu ${(v.cpu / 1000).toFixed(3)})`).join(', ')}\n`);
    },
  };
}
