/** The flags (`--…`) of the ENTRYPOINT of `<root>/Dockerfile`; none when there is no Dockerfile (see image.js). */
export function imageNodeArgs(root: string): string[];
