import { benchOrchestration } from './orchestration';
const r = await benchOrchestration(Number(process.env.ROUNDS ?? 40));
console.log(JSON.stringify({ ratio: r.ratioToFloor, ours: r.oursMedianMs, floor: r.floorMedianMs, cpu: r.cpuMsPerStep }));
