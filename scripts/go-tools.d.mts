export const TOOLS_DIR: string;
export const PINS: {
  kustomize: string;
  kubeconform: string;
  k6: string;
  composeGo: [string, string];
  kubernetes: [string, string];
};
export function goModuleDir(module: string, version: string): string;
export function goTool(name: 'kustomize' | 'kubeconform' | 'k6', log?: (line: string) => void): string;
