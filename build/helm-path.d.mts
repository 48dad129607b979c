export declare const ROOT: string;
export declare const TOOLS_DIR: string;
export declare const HELM_MAJORS: readonly [3, 4];
export declare function pinnedHelmPath(major: 3 | 4): string;
export declare function requirePinnedHelm(major: 3 | 4): string;
export declare function findHelm(): string | undefined;
