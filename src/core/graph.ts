/**
 * Pure graph helpers over job keys. `needs` maps each node to the nodes it
 * waits for; edges to unknown nodes are ignored.
 */

export type NeedsGraph = ReadonlyMap<string, readonly string[]>;

/**
 * Every dependency cycle, once each, as a path that starts and ends at the
 * same node, following `needs` (`["build", "test", "build"]`: build needs
 * test, test needs build). Self-loops are left to the caller. Each strongly
 * connected component gives one cycle, starting at its first node in
 * definition (map) order.
 */
export function findCycles(needs: NeedsGraph): string[][] {
  const order = [...needs.keys()];
  const position = new Map(order.map((k, i) => [k, i]));
  // Computed once per node: a job may need thousands of others (a fan-in), and
  // the search below asks for a node's edges once per edge it follows.
  const edgeCache = new Map<string, readonly string[]>();
  const edges = (node: string): readonly string[] => {
    let out = edgeCache.get(node);
    if (out === undefined) {
      out = (needs.get(node) ?? []).filter((n) => n !== node && needs.has(n));
      edgeCache.set(node, out);
    }
    return out;
  };

  // Tarjan's strongly connected components, iterative (no recursion limit).
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  for (const root of order) {
    if (index.has(root)) continue;
    const work: Array<{ node: string; next: number }> = [{ node: root, next: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const out = edges(frame.node);
      if (frame.next < out.length) {
        const to = out[frame.next++]!;
        if (!index.has(to)) {
          index.set(to, counter);
          low.set(to, counter++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, next: 0 });
        } else if (onStack.has(to)) low.set(frame.node, Math.min(low.get(frame.node)!, index.get(to)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string | undefined;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        if (component.length > 1) components.push(component);
      }
    }
  }

  const cycles = components.map((component) => {
    const members = new Set(component);
    const start = [...component].sort((a, b) => position.get(a)! - position.get(b)!)[0]!;
    // Breadth-first search for the shortest way back to `start` inside the component.
    const previous = new Map<string, string>();
    const queue = [start];
    for (let i = 0; i < queue.length; i++) {
      const node = queue[i]!;
      for (const to of edges(node)) {
        if (!members.has(to)) continue;
        if (to === start) {
          const path = [start];
          for (let at: string | undefined = node; at !== undefined && at !== start; at = previous.get(at)) path.splice(1, 0, at);
          path.push(start);
          return path;
        }
        if (!previous.has(to)) {
          previous.set(to, node);
          queue.push(to);
        }
      }
    }
    return [start, start];
  });
  return cycles.sort((a, b) => position.get(a[0]!)! - position.get(b[0]!)!);
}

/**
 * A topological order (needs first); among nodes that are ready at the same
 * time, the one defined first comes first. Nodes in cycles are left out.
 */
export function topologicalOrder(needs: NeedsGraph): string[] {
  // Kahn's algorithm with the ready nodes in a min-heap of definition positions: O(E + V log V).
  const order = [...needs.keys()];
  const position = new Map(order.map((k, i) => [k, i]));
  const waiting = new Map<string, number>();
  const dependants = new Map<string, string[]>();
  for (const node of order) {
    const distinct = new Set((needs.get(node) ?? []).filter((n) => n !== node && needs.has(n)));
    waiting.set(node, distinct.size);
    for (const need of distinct) {
      const list = dependants.get(need);
      if (list) list.push(node);
      else dependants.set(need, [node]);
    }
  }
  const ready = new MinHeap();
  for (const node of order) if (waiting.get(node) === 0) ready.push(position.get(node)!);
  const result: string[] = [];
  for (let at = ready.pop(); at !== undefined; at = ready.pop()) {
    const node = order[at]!;
    result.push(node);
    for (const dependant of dependants.get(node) ?? []) {
      const left = waiting.get(dependant)! - 1;
      waiting.set(dependant, left);
      if (left === 0) ready.push(position.get(dependant)!);
    }
  }
  return result;
}

/** A binary min-heap of numbers. */
class MinHeap {
  private readonly items: number[] = [];

  push(value: number): void {
    const items = this.items;
    items.push(value);
    for (let i = items.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (items[parent]! <= value) break;
      items[i] = items[parent]!;
      items[parent] = value;
      i = parent;
    }
  }

  pop(): number | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let smallest = i;
      if (l < items.length && items[l]! < items[smallest]!) smallest = l;
      if (r < items.length && items[r]! < items[smallest]!) smallest = r;
      if (smallest === i) break;
      [items[i], items[smallest]] = [items[smallest]!, items[i]!];
      i = smallest;
    }
    return top;
  }
}

/** Every node `node` transitively needs (not itself, unless through a cycle). */
export function ancestors(needs: NeedsGraph, node: string): Set<string> {
  const seen = new Set<string>();
  const queue = [...(needs.get(node) ?? [])];
  while (queue.length > 0) {
    const next = queue.pop()!;
    if (seen.has(next) || !needs.has(next)) continue;
    seen.add(next);
    queue.push(...(needs.get(next) ?? []));
  }
  return seen;
}
