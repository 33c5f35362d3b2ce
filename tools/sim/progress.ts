/** A one-line progress bar on a TTY; periodic plain lines otherwise (CI logs). */
export class ProgressBar {
  private readonly started = Date.now();
  private lastLine = 0;

  constructor(
    private readonly total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  update(done: number, detail: string): void {
    const fraction = Math.min(1, done / this.total);
    const elapsed = (Date.now() - this.started) / 1000;
    const eta = fraction > 0 ? (elapsed / fraction) * (1 - fraction) : 0;
    const width = 24;
    const bar = '#'.repeat(Math.round(fraction * width)).padEnd(width, '.');
    const line = `[${bar}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${detail}  ${formatSeconds(elapsed)} elapsed, eta ${formatSeconds(eta)}`;
    if (this.out.isTTY) this.out.write(`\r${line.slice(0, (this.out.columns ?? 160) - 1)}`);
    else if (Date.now() - this.lastLine > 10_000 || fraction >= 1) {
      this.out.write(`${line}\n`);
      this.lastLine = Date.now();
    }
  }

  done(): void {
    if (this.out.isTTY) this.out.write('\n');
  }
}

function formatSeconds(s: number): string {
  return s < 90 ? `${s.toFixed(0)}s` : `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}
