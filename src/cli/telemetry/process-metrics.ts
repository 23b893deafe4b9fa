/**
 * The bridge process's own health, under OpenTelemetry's names for process and Node.js runtime
 * metrics: CPU time by mode, resident memory, open file descriptors, uptime, V8 heap use and limit by
 * heap space, and the event loop's delay and utilization. Read at each scrape from what Node keeps
 * anyway; the only thing running between scrapes is the event-loop delay sampler.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import type { Meter } from '@opentelemetry/api';
import { openDescriptorCount } from '../../shared/fd-exhaustion.js';

/** How often the event loop's delay is sampled: a timer this often, ~20 µs each. */
const DELAY_RESOLUTION_MS = 20;
const NS_PER_S = 1e9;

/** Starts sampling the event loop's delay; the returned function stops it. */
export function observeProcess(meter: Meter): () => void {
  const cpuTime = meter.createObservableCounter('process.cpu.time', {
    description: 'CPU time of the bridge process, by mode (user, system)',
    unit: 's',
  });
  const memory = meter.createObservableUpDownCounter('process.memory.usage', {
    description: 'Physical memory of the bridge process (resident set size)',
    unit: 'By',
  });
  const descriptors = meter.createObservableUpDownCounter('process.unix.file_descriptor.count', {
    description: 'File descriptors the bridge process holds',
    unit: '{file_descriptor}',
  });
  const uptime = meter.createObservableGauge('process.uptime', {
    description: 'Time since the bridge process started',
    unit: 's',
  });
  const heapUsed = meter.createObservableUpDownCounter('v8js.memory.heap.used', {
    description: 'V8 heap memory used, by heap space',
    unit: 'By',
  });
  const heapLimit = meter.createObservableUpDownCounter('v8js.memory.heap.limit', {
    description: 'V8 heap memory reserved, by heap space',
    unit: 'By',
  });
  const delay = {
    min: meter.createObservableGauge('nodejs.eventloop.delay.min', { unit: 's' }),
    max: meter.createObservableGauge('nodejs.eventloop.delay.max', { unit: 's' }),
    mean: meter.createObservableGauge('nodejs.eventloop.delay.mean', { unit: 's' }),
    stddev: meter.createObservableGauge('nodejs.eventloop.delay.stddev', { unit: 's' }),
    p50: meter.createObservableGauge('nodejs.eventloop.delay.p50', { unit: 's' }),
    p90: meter.createObservableGauge('nodejs.eventloop.delay.p90', { unit: 's' }),
    p99: meter.createObservableGauge('nodejs.eventloop.delay.p99', { unit: 's' }),
  };
  const utilization = meter.createObservableGauge('nodejs.eventloop.utilization', {
    description: 'Share of time the event loop was busy since the last scrape',
    unit: '1',
  });
  const loopTime = meter.createObservableCounter('nodejs.eventloop.time', {
    description: 'Time the event loop has spent busy (active) and waiting (idle)',
    unit: 's',
  });

  const histogram = monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS });
  histogram.enable();
  let lastLoop = performance.eventLoopUtilization();

  meter.addBatchObservableCallback(
    async (result) => {
      const cpu = process.cpuUsage();
      result.observe(cpuTime, cpu.user / 1e6, { 'cpu.mode': 'user' });
      result.observe(cpuTime, cpu.system / 1e6, { 'cpu.mode': 'system' });
      result.observe(memory, process.memoryUsage.rss());
      const open = await openDescriptorCount();
      if (typeof open === 'number') result.observe(descriptors, open);
      result.observe(uptime, process.uptime());
      for (const space of getHeapSpaceStatistics()) {
        const attributes = { 'v8js.heap.space.name': space.space_name };
        result.observe(heapUsed, space.space_used_size, attributes);
        result.observe(heapLimit, space.space_size, attributes);
      }
      // Delay since the last scrape; none measured yet (a scrape right after start) reports nothing.
      if (histogram.count > 0) {
        result.observe(delay.min, histogram.min / NS_PER_S);
        result.observe(delay.max, histogram.max / NS_PER_S);
        result.observe(delay.mean, histogram.mean / NS_PER_S);
        result.observe(delay.stddev, histogram.stddev / NS_PER_S);
        result.observe(delay.p50, histogram.percentile(50) / NS_PER_S);
        result.observe(delay.p90, histogram.percentile(90) / NS_PER_S);
        result.observe(delay.p99, histogram.percentile(99) / NS_PER_S);
        histogram.reset();
      }
      const loop = performance.eventLoopUtilization();
      result.observe(utilization, performance.eventLoopUtilization(loop, lastLoop).utilization);
      lastLoop = loop;
      result.observe(loopTime, loop.active / 1000, { 'nodejs.eventloop.state': 'active' });
      result.observe(loopTime, loop.idle / 1000, { 'nodejs.eventloop.state': 'idle' });
    },
    [
      cpuTime,
      memory,
      descriptors,
      uptime,
      heapUsed,
      heapLimit,
      ...Object.values(delay),
      utilization,
      loopTime,
    ],
  );
  return () => histogram.disable();
}
