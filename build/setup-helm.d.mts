export declare const PINNED: ReadonlyArray<{ major: 3 | 4; pkg: string; version: string; integrity: string; expect: RegExp }>;
export declare function setupHelm(opts?: { force?: boolean; log?: (msg: string) => void; majors?: ReadonlyArray<3 | 4> }): Record<number, string>;
