// Reading a child process that answers with one JSON document per line on stdout.

/** A function returning the next JSON line; throws `exitedMessage` once the stream has ended. */
export function jsonLines(stdout: ReadableStream<Uint8Array>, exitedMessage: string): () => Promise<any> {
  const lines = (async function* () {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of stdout) {
      buffered += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = buffered.indexOf("\n")) !== -1) {
        yield buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
      }
    }
  })();
  return async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error(exitedMessage);
    return JSON.parse(value);
  };
}
