'use strict';

// Worker thread holding the socket.io subscribers, so their receipt times are not delayed by
// the main thread firing HTTP requests. Messages: {cmd:'connect'} -> {ready}; {cmd:'collect'} -> {result}.

const { parentPort, workerData } = require('node:worker_threads');
const { io } = require('socket.io-client');

const now = () => performance.timeOrigin + performance.now();
const sockets = [];
const clients = [];

function atOf(payload) {
  const at = payload?.at;
  if (typeof at === 'number') return at;
  if (typeof at === 'string') return Date.parse(at);
  return NaN;
}

function reservedOf(payload) {
  return payload?.reserved ?? payload?.date?.reserved ?? payload?.eventDate?.reserved ?? null;
}

async function connect({ origins, count, eventDateId }) {
  const errors = {};
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const socket = io(`${origins[i % origins.length]}/realtime`, {
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        timeout: 20_000,
      });
      sockets.push(socket);
      const client = { delays: [], received: [], reserved: [], lastReserved: null };
      clients.push(client);
      socket.on('availability', (payload) => {
        const t = now();
        const at = atOf(payload);
        if (!Number.isNaN(at)) client.delays.push(t - at);
        client.received.push(t);
        client.lastReserved = reservedOf(payload);
        client.reserved.push(client.lastReserved);
        client.lastAt = t;
      });
      try {
        await new Promise((resolve, reject) => {
          socket.once('connect', resolve);
          socket.once('connect_error', reject);
        });
        const ack = await socket.timeout(20_000).emitWithAck('subscribe', { eventDateId });
        client.ackReserved = reservedOf(ack);
      } catch (error) {
        const key = error.message.slice(0, 80);
        errors[key] = (errors[key] ?? 0) + 1;
        client.failed = true;
      }
    }),
  );
  return { connected: clients.filter((c) => !c.failed).length, errors };
}

parentPort.on('message', async (msg) => {
  if (msg.cmd === 'connect') {
    parentPort.postMessage({ ready: await connect(msg) });
  } else if (msg.cmd === 'collect') {
    // received: receipt times of every push, for the convergence and quiet-time computation
    parentPort.postMessage({
      result: clients.map((c) => ({
        failed: !!c.failed,
        delays: c.delays,
        received: c.received,
        reserved: c.reserved,
        lastReserved: c.lastReserved,
        ackReserved: c.ackReserved,
      })),
    });
  } else if (msg.cmd === 'lastPush') {
    parentPort.postMessage({ lastPush: Math.max(0, ...clients.map((c) => c.lastAt ?? 0)) });
  } else if (msg.cmd === 'close') {
    for (const s of sockets) s.close();
    parentPort.postMessage({ closed: true });
  }
});

void workerData;
