#!/usr/bin/env python3
"""One local epoch of the FedAvg CNN (McMahan et al., AISTATS 2017, Section 3) on 28x28x1
and 32x32x3 inputs and of LEAF's Shakespeare LSTM (Caldas et al., 2018) in fedbits
(bench/bench_nets.c) and, when python3-torch is importable, the same models and loop in
PyTorch on one thread; prints both and the ratio fedbits / PyTorch. PyTorch is optional
and never needed by the build or the tests: without it only fedbits' figures print.

Usage: bench_models.py BENCH_NETS [REPEATS [MODEL...]]   (MODEL: 28, 32 or lstm; default all)

Both sides: 600 samples, batch 10, plain SGD lr 0.05, one warm-up epoch, median of REPEATS.
CPU seconds are reported beside wall seconds because the development machine is shared.
"""
import os
import re
import resource
import subprocess
import sys
import time

# (channels, side) of the CNN's input; (0, 0) is the LSTM.
MODELS = [(1, 28), (3, 32), (0, 0)]


def fedbits(exe, repeats, hw):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = dict(os.environ, OPENBLAS_NUM_THREADS='1')
    which = str(hw) if hw else 'lstm'
    out = subprocess.run([exe, str(repeats), which], check=True, capture_output=True,
                         text=True, env=env).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    line = [ln for ln in out.splitlines() if ln.startswith('fedbits ')][-1]
    wall = float(re.search(r'median ([0-9.]+) ms', line).group(1)) / 1e3
    # Warm-up plus repeats epochs ran in the child; setup is small beside them.
    return line, wall, cpu / (repeats + 1)


def torch_epochs(repeats, ch, hw):
    import torch
    import torch.nn as nn
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)

    class FedAvgCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(ch, 32, 5, padding=2)
            self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
            self.fc1 = nn.Linear(64 * (hw // 4) ** 2, 512)
            self.fc2 = nn.Linear(512, 10)

        def forward(self, x):
            x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
            x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
            return self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))

    class ShakespeareLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(80, 8)
            self.lstm = nn.LSTM(8, 256, 2, batch_first=True)
            self.fc = nn.Linear(256, 80)

        def forward(self, x):
            out, _ = self.lstm(self.embed(x))
            return self.fc(out[:, -1])

    if ch == 0:
        model = ShakespeareLSTM()
        xs = torch.randint(0, 80, (600, 80))
        ys = torch.randint(0, 80, (600,))
    else:
        model = FedAvgCNN()
        xs = torch.rand(600, ch, hw, hw)
        ys = torch.randint(0, 10, (600,))
    loss_fn = nn.CrossEntropyLoss()

    def epoch():
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        for i in range(0, 600, 10):
            opt.zero_grad()
            loss_fn(model(xs[i:i + 10]), ys[i:i + 10]).backward()
            opt.step()

    epoch()
    walls, cpus = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        epoch()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    walls.sort()
    cpus.sort()
    return walls[len(walls) // 2], cpus[len(cpus) // 2]


def torch_python():
    """An interpreter that imports torch (this one, or Debian's), or None."""
    for py in (sys.executable, '/usr/bin/python3'):
        if os.path.exists(py) and subprocess.run([py, '-c', 'import torch'],
                                                 capture_output=True).returncode == 0:
            return py
    return None


def main():
    if len(sys.argv) == 5 and sys.argv[1] == '--torch':
        wall, cpu = torch_epochs(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
        print(wall, cpu)
        return
    if len(sys.argv) < 2:
        sys.exit('usage: bench_models.py BENCH_NETS [REPEATS [28|32|lstm ...]]')
    exe = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    names = {'28': (1, 28), '32': (3, 32), 'lstm': (0, 0)}
    if any(a not in names for a in sys.argv[3:]):
        sys.exit('bench_models.py: a model is 28, 32 or lstm')
    models = [names[a] for a in sys.argv[3:]] or MODELS
    py = torch_python()
    have_torch = py is not None
    if not have_torch:
        print('python3-torch not importable: fedbits figures only')
    for ch, hw in models:
        name = f'cnn-{hw}x{hw}x{ch}' if ch else 'lstm-shakespeare'
        line, wall, cpu = fedbits(exe, repeats, hw)
        print(line)
        print(f'fedbits {name}: wall {wall:.3f} s, cpu {cpu:.3f} s per epoch')
        if have_torch:
            # One thread for PyTorch too: set_num_threads(1) alone left an OpenMP pool
            # spinning (more CPU than wall time), so its pools are sized before import.
            tenv = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
            out = subprocess.run([py, __file__, '--torch', str(repeats), str(ch), str(hw)],
                                 check=True, capture_output=True, text=True, env=tenv).stdout
            twall, tcpu = (float(v) for v in out.split())
            print(f'pytorch {name}: wall {twall:.3f} s, cpu {tcpu:.3f} s per epoch')
            print(f'ratio fedbits/pytorch {name}: wall {wall / twall:.2f}, cpu {cpu / tcpu:.2f}')


if __name__ == '__main__':
    main()
