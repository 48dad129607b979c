// The file operations the file store uses, as an interface: node:fs/promises in production, and in tests a
// wrapper that cuts writes short or fails them (ENOSPC), so every failure path can be exercised.
import * as fsPromises from 'node:fs/promises';

export interface StoreFileHandle {
  write(buffer: Buffer, offset: number, length: number): Promise<{ bytesWritten: number }>;
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  stat(): Promise<{ size: number; ino: number; dev: number }>;
  close(): Promise<void>;
}

export interface StoreFileSystem {
  open(path: string, flags: string, mode?: number): Promise<StoreFileHandle>;
  stat(path: string): Promise<{ size: number; ino: number; dev: number }>;
}

export const nodeFileSystem: StoreFileSystem = {
  open: (path, flags, mode) => fsPromises.open(path, flags, mode),
  stat: (path) => fsPromises.stat(path),
};
