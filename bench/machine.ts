import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export type Machine = { cpu: string; cores: number; memoryGb: number; os: string; node: string; loadAverage: number[] };

export function describeMachine(): Machine {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverage: os.loadavg().map((value) => Math.round(value * 100) / 100),
  };
}

/**
 * CPU used during a measurement, in cores: by the benchmark's own processes (this one, with the
 * database thread, and the children it names), and by everything else on the machine, which is the
 * disturbance to watch (another engineer's build, CI) on a shared 2-core machine. Linux only (it reads
 * /proc); elsewhere the figures are undefined.
 */
export type CpuShare =
  | {
      ownCores: number;
      otherCores: number;
      /** Share of the time some runnable task waited for a CPU (/proc/pressure/cpu "some"). */
      cpuPressure: number | undefined;
      loadAverage: number[];
    }
  | undefined;

const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function machineBusyTicks(): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    return user + nice + system + irq + softirq + steal;
  } catch {
    return undefined;
  }
}

/** Microseconds during which some task waited for a CPU, since boot (Linux 4.20+ with PSI). */
function cpuStallMicros(): number | undefined {
  try {
    const match = /^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

function processTicks(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** Starts measuring; `stop` must be called while the named child processes are still alive. */
export function startCpuMeter(childPids: () => number[] = () => []) {
  const ownTicks = () => processTicks(process.pid) + childPids().reduce((sum, pid) => sum + processTicks(pid), 0);
  const startedAt = performance.now();
  const busyBefore = machineBusyTicks();
  const stallBefore = cpuStallMicros();
  const ownBefore = ownTicks();
  return {
    stop(): CpuShare {
      const busyAfter = machineBusyTicks();
      if (busyBefore === undefined || busyAfter === undefined) return undefined;
      const seconds = (performance.now() - startedAt) / 1000;
      const own = (ownTicks() - ownBefore) / TICKS_PER_SECOND / seconds;
      const busy = (busyAfter - busyBefore) / TICKS_PER_SECOND / seconds;
      const stallAfter = cpuStallMicros();
      const pressure = stallBefore === undefined || stallAfter === undefined ? undefined : round((stallAfter - stallBefore) / 1e6 / seconds);
      return { ownCores: round(own), otherCores: round(Math.max(0, busy - own)), cpuPressure: pressure, loadAverage: os.loadavg().map(round) };
    },
  };
}

const round = (value: number) => Math.round(value * 100) / 100;
