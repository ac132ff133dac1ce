// A loopback TCP socket made through libc, for states no runtime server offers: bound but never
// listening (connections refused), or listening and never accepting (handshakes hang).
export interface RawSocket {
  readonly port: number;
  /** listen(2) with this backlog; the socket never accepts. */
  listen(backlog: number): void;
  close(): void;
}

/** Bind a TCP socket to 127.0.0.1 on a free port (not listening yet). */
export async function bindRawSocket(): Promise<RawSocket> {
  const { dlopen, FFIType, ptr } = await import("bun:ffi");
  const libc = dlopen(process.platform === "darwin" ? "libc.dylib" : "libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    listen: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    getsockname: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  });
  const fd = libc.symbols.socket(2 /* AF_INET */, 1 /* SOCK_STREAM */, 0);
  if (fd < 0) throw new Error("socket() failed");
  const addr = new Uint8Array(16); // struct sockaddr_in, port 0 = any
  const view = new DataView(addr.buffer);
  view.setUint16(0, 2, true);
  addr.set([127, 0, 0, 1], 4);
  if (libc.symbols.bind(fd, ptr(addr), 16) !== 0) throw new Error("bind failed");
  const len = new Uint32Array([16]);
  libc.symbols.getsockname(fd, ptr(addr), ptr(len));
  return {
    port: view.getUint16(2, false),
    listen(backlog) {
      if (libc.symbols.listen(fd, backlog) !== 0) throw new Error("listen failed");
    },
    close() {
      libc.symbols.close(fd);
      libc.close();
    },
  };
}
