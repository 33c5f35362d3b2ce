export function schemaFileName(gvk: { group: string; kind: string; version: string }): string;
export function kubernetesSchemas(log?: (line: string) => void): string;
