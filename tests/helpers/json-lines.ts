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

/** Where commands go to the child: its stdin as Bun.spawn gives it. */
interface CommandSink {
  write(text: string): unknown;
  flush(): unknown;
}

/**
 * Ask a child one command line at a time and get its JSON answer: a question waits for the one before it, so
 * answers come back in the order asked.
 */
export function askInTurn(stdin: CommandSink, next: () => Promise<any>): <T>(command: string) => Promise<T> {
  let queue: Promise<unknown> = Promise.resolve();
  return <T>(command: string): Promise<T> => {
    const answer = queue.then(async () => {
      stdin.write(`${command}\n`);
      stdin.flush();
      return (await next()) as T;
    });
    queue = answer.catch(() => {});
    return answer;
  };
}
