'use strict';

// Preloaded into the server (node -r) by `npm run bench -- --cpu-prof`. The harness sends
// {benchProfile: 'start'} over the IPC channel to start a fresh CPU profile, and
// {benchProfile: 'stop'} to write it to BENCH_CPU_PROFILE_FILE. (Signals are taken: Nest's
// shutdown hooks listen to SIGUSR2 too, and --cpu-prof writes nothing when Nest re-raises
// SIGTERM.)

const inspector = require('node:inspector');
const { writeFileSync } = require('node:fs');

const file = process.env.BENCH_CPU_PROFILE_FILE;
if (file && process.channel) {
  // the channel must not keep the server alive after SIGTERM
  process.channel.unref();
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable', () => session.post('Profiler.setSamplingInterval', { interval: 250 }));
  process.on('message', (msg) => {
    if (msg?.benchProfile === 'start') {
      session.post('Profiler.start');
    } else if (msg?.benchProfile === 'stop') {
      session.post('Profiler.stop', (error, result) => {
        if (!error) writeFileSync(file, JSON.stringify(result.profile));
      });
    }
  });
}
