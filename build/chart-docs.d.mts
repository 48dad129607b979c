export declare const VALUES: string;
export declare const README: string;
export declare const SCHEMA: string;
export declare function generateReadme(valuesPath?: string, readmeText?: string): string;
export declare function descriptions(valuesPath?: string): Map<string, string>;
export declare function describeSchema(schema: unknown, docs: Map<string, string>): unknown;
export declare function generateSchema(valuesPath?: string, schemaText?: string): string;
