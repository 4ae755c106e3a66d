// Prints `t <epoch ms> <n>` lines at a steady rate: `node line-generator.mjs <lines per second> <seconds>`.
const rate = Number(process.argv[2]);
const total = rate * Number(process.argv[3]);
const start = Date.now();
let n = 0;
const timer = setInterval(() => {
  const due = Math.min(total, Math.floor(((Date.now() - start) * rate) / 1000));
  let out = '';
  while (n < due) out += `t ${Date.now()} ${++n}\n`;
  if (out) process.stdout.write(out);
  if (n >= total) clearInterval(timer);
}, 5);
