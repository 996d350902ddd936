import { io, Socket } from 'socket.io-client';

/**
 * A socket.io client of the /realtime namespace at `url`, once connected (a connect_error
 * rejects). It never reconnects and shares no connection with another client.
 */
export async function connectRealtime(
  url: string,
  options: { auth?: { token: string }; transport?: 'websocket' | 'polling' } = {},
): Promise<Socket> {
  const socket = io(`${url}/realtime`, {
    transports: [options.transport ?? 'websocket'],
    auth: options.auth,
    reconnection: false,
    forceNew: true,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
  } catch (error) {
    socket.close();
    throw error;
  }
  return socket;
}
