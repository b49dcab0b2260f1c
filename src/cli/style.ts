// Colour on a terminal only, and never with NO_COLOR set.
import { ansi, plain, type Style } from '../replay/report.ts';

export function styleFor(stream: NodeJS.WriteStream): Style {
  return stream.isTTY && !process.env.NO_COLOR ? ansi : plain;
}
