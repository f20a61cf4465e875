// A chart's diagram, drawn by the server as SVG and placed in the page, optionally with instance counts on its states.

import { useEffect, useRef, useState } from 'preact/hooks';
import { getText } from '../api';
import type { Counts } from '../types';

const SVG = 'http://www.w3.org/2000/svg';

export function Diagram({ src, label, counts, revision }: { src: string; label: string; counts?: Counts; revision?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string>();

  useEffect(() => {
    const controller = new AbortController();
    getText(src, controller.signal).then((text) => {
      const target = box.current;
      if (!target || controller.signal.aborted) return;
      const parsed = new DOMParser().parseFromString(text, 'image/svg+xml').documentElement;
      if (parsed.nodeName !== 'svg') throw new Error('the diagram is not SVG');
      const svg = document.importNode(parsed, true) as unknown as SVGSVGElement;
      svg.setAttribute('aria-hidden', 'true');
      svg.setAttribute('focusable', 'false');
      target.replaceChildren(svg);
      if (counts) drawCounts(svg, counts);
      setError(undefined);
    }).catch((reason: Error) => {
      if (!controller.signal.aborted) setError(reason.message);
    });
    return () => controller.abort();
  }, [src, revision, counts]);

  return (
    <figure class="diagram">
      <div ref={box} class="drawing" />
      <figcaption>{error ? `The diagram could not be drawn: ${error}` : label}</figcaption>
    </figure>
  );
}

/** A badge at the corner of each state's node with how many instances are in it. */
function drawCounts(svg: SVGSVGElement, counts: Counts): void {
  for (const node of svg.querySelectorAll<SVGGElement>('g.node')) {
    const state = node.querySelector('title')?.textContent ?? '';
    const count = counts.byState[state];
    if (!count) continue;
    const total = count.active + count.done + count.cancelled;
    const box = node.getBBox();
    const badge = document.createElementNS(SVG, 'g');
    badge.setAttribute('class', 'count');
    const circle = document.createElementNS(SVG, 'circle');
    const radius = 9 + 3 * String(total).length;
    circle.setAttribute('cx', String(box.x + box.width - 4));
    circle.setAttribute('cy', String(box.y + 2));
    circle.setAttribute('r', String(radius));
    const text = document.createElementNS(SVG, 'text');
    text.setAttribute('x', String(box.x + box.width - 4));
    text.setAttribute('y', String(box.y + 2));
    text.setAttribute('dy', '0.35em');
    text.setAttribute('text-anchor', 'middle');
    text.textContent = String(total);
    const title = document.createElementNS(SVG, 'title');
    title.textContent = `${state}: ${count.active} active, ${count.done} done, ${count.cancelled} cancelled`;
    badge.append(title, circle, text);
    node.append(badge);
  }
}
