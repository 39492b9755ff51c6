// Reads a Kubernetes watch stream as a client sees it: one JSON event per line.

export interface WatchEvent {
  type: string;
  /** The object as sent; the tests pick whatever fields they check. */
  object: any;
}

/** The first `n` events of a watch response (fewer if the stream ends); the stream is then cancelled. */
export async function readWatchEvents(res: Response, n: number): Promise<WatchEvent[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const out: WatchEvent[] = [];
  let buf = "";
  while (out.length < n) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += value;
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      out.push(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
    }
  }
  await reader.cancel();
  return out;
}
