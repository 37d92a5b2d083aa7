package org.wrpn.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.wrpn.bench.Machine;
import org.wrpn.export.Exporter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Export a checkpoint for inference: ONNX with QuantizeLinear/DequantizeLinear nodes (opset 13), or packed"
                + " k-bit weight codes in safetensors (`wrpn eval --checkpoint` runs from it). Bad input (a corrupt or foreign"
                + " checkpoint, an output that cannot be written) exits 2 and writes nothing.")
public final class ExportCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "checkpoint sidecar (.json), weights (.safetensors) or a run directory (its newest)")
    Path checkpoint;

    @Option(names = "--format", description = "onnx or packed (default: ${DEFAULT-VALUE})")
    String format = "onnx";

    @Option(names = "--out", required = true, description = "the file to write (replaced atomically)")
    Path out;

    @Option(names = "--class-names", split = ",", description = "class names in label order (default: from the data set's name, else the indices)")
    List<String> classNames;

    @Override
    public Integer call() {
        Exporter.Format f = Exporter.Format.parse(format);
        Exporter.Written w = Exporter.export(checkpoint, f, out, classNames, Machine.commit());
        System.out.printf(Locale.ROOT, "wrote %s (%s, %,d bytes): %s width %s, %d classes%n", w.file(), f.flag(), w.bytes(), w.model(),
                w.width(), w.classes());
        return Main.EXIT_OK;
    }
}
