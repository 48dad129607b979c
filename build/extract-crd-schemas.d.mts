export declare function strictify(node: unknown): unknown;
export declare function crdToSchemas(crd: unknown): Array<{ file: string; schema: Record<string, unknown> }>;
