/** A bench command's end: exit 0 when `main` resolves, else print its error and exit 1 (open sockets and timers do not hold the process). */
export function runMain(main: () => Promise<unknown>): void {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
