package org.wrpn.export;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.wrpn.bench.Machine;
import org.wrpn.data.DataSource;
import org.wrpn.data.Dataset;
import org.wrpn.export.PackedFormat.PackedLayer;
import org.wrpn.quant.Quantizer;
import org.wrpn.train.AtomicFiles;
import org.wrpn.train.Checkpoint;
import org.wrpn.train.Evaluator;
import org.wrpn.train.NamedArray;
import org.wrpn.train.Safetensors;

/**
 * benchmarks/export-check.sh's measurement of trained runs: ONNX Runtime against wrpn on the whole
 * Fashion-MNIST test set, `wrpn eval` from the packed export against the checkpoint, and the sizes.
 * Also counts where ONNX's QuantizeLinear / DequantizeLinear differ from wrpn's quantizer, over every
 * float in [0, 1]. Arguments: the folder to write export-cpu.csv and export-qdq.csv into, then run
 * directories (the newest checkpoint of each).
 */
public final class ExportMeasurement {
    private ExportMeasurement() {}

    public static void main(String[] args) throws IOException {
        Dataset test = (Dataset) DataSource.open(DataSource.DEFAULT_DIR).test(); // IDX: pixels in memory
        Path tmp = Files.createTempDirectory("wrpn-export-measure");
        StringBuilder csv = new StringBuilder("model,width,wbits,abits,epochs,test_images,wrpn_accuracy,onnx_accuracy,agreement,"
                + "packed_eval_accuracy,packed_eval_loss,checkpoint_eval_loss,fp32_bytes,packed_bytes,packed_factor,packed_data_factor,"
                + "onnx_bytes,checkpoint_bytes,machine,commit\n");
        String machine = String.valueOf(Machine.describe().get("cpu"));
        String commit = Machine.commit();
        for (int i = 1; i < args.length; i++) {
            Checkpoint.Loaded l = Checkpoint.load(Checkpoint.resolve(Path.of(args[i])));
            Path onnx = tmp.resolve(i + ".onnx"), packed = tmp.resolve(i + ".packed.safetensors"), fp32 = tmp.resolve(i + ".fp32.safetensors");
            Exporter.export(l.sidecar(), Exporter.Format.ONNX, onnx, null, commit);
            Exporter.export(l.sidecar(), Exporter.Format.PACKED, packed, null, commit);
            TrainedModel m = TrainedModel.load(l.sidecar());
            List<NamedArray> params = new ArrayList<>();
            TrainedModel.parameterShapes(m.layers()).forEach((n, s) -> params.add(NamedArray.f32(n, s, m.values(n, s))));
            Safetensors.write(fp32, params, Map.of());

            ExportFixtures.Predictions wrpn = ExportFixtures.wrpn(l.sidecar(), test);
            ExportFixtures.Predictions ort = ExportFixtures.onnx(onnx, test);
            Evaluator.Result fromCheckpoint = ExportFixtures.evaluate(l, null, test);
            PackedModel p = PackedModel.read(packed);
            Evaluator.Result fromPacked = ExportFixtures.evaluate(p.checkpoint(), p, test);
            long fp32Bytes = Files.size(fp32), packedBytes = Files.size(packed);
            csv.append(String.format(Locale.ROOT, "%s,%s,%d,%d,%d,%d,%.4f,%.4f,%.4f,%.4f,%.6f,%.6f,%d,%d,%.2f,%.2f,%d,%d,\"%s\",%s%n",
                    l.config().model(), l.config().widthMultiplier(), l.config().weightBits(), l.config().activationBits(),
                    l.progress().epoch(), test.count(), wrpn.accuracy(), ort.accuracy(), ort.agreement(wrpn), fromPacked.accuracy(),
                    fromPacked.loss(), fromCheckpoint.loss(), fp32Bytes, packedBytes, fp32Bytes / (double) packedBytes,
                    dataFactor(m), Files.size(onnx), Files.size(l.weights()), machine, commit));
            if (fromPacked.accuracy() != fromCheckpoint.accuracy() || fromPacked.loss() != fromCheckpoint.loss()) {
                throw new IllegalStateException(args[i] + ": the packed export evaluates to " + fromPacked + ", the checkpoint to " + fromCheckpoint);
            }
        }
        AtomicFiles.writeString(Path.of(args[0]).resolve("export-cpu.csv"), csv.toString());
        System.out.print(csv);
        String qdq = qdqAgainstWrpn(machine, commit);
        AtomicFiles.writeString(Path.of(args[0]).resolve("export-qdq.csv"), qdq);
        System.out.print(qdq);
    }

    /**
     * Per activation width: of all floats x in [0, 1], how many get another code from QuantizeLinear,
     * rint(x / float(1 / L)), than from wrpn, rint(x * L) (L = 2^k - 1); and of the L + 1 codes, how many
     * DequantizeLinear values u * float(1 / L) differ from wrpn's u / L.
     */
    static String qdqAgainstWrpn(String machine, String commit) {
        StringBuilder csv = new StringBuilder("bits,floats_in_0_1,codes_differing,first_differing_x,levels,values_differing,machine,commit\n");
        int one = Float.floatToRawIntBits(1f);
        for (int k : new int[] {1, 2, 4, 8}) {
            float scale = Quantizer.activationStep(k);
            long differ = 0;
            String first = "";
            for (int bits = 0; bits <= one; bits++) {
                float x = Float.intBitsToFloat(bits);
                if (Quantizer.activationCode(x, k) != (int) Math.rint(x / scale)) {
                    if (differ++ == 0) first = Float.toString(x);
                }
            }
            int values = 0;
            for (int u = 0; u <= Quantizer.activationLevels(k); u++) if (Quantizer.activationValue(u, k) != u * scale) values++;
            csv.append(String.format(Locale.ROOT, "%d,%d,%d,%s,%d,%d,\"%s\",%s%n", k, one + 1L, differ, first,
                    Quantizer.activationLevels(k) + 1, values, machine, commit));
        }
        return csv.toString();
    }

    /** fp32 data bytes over the packed layout's: 4 bytes a value, or ceil(row / (32 / k)) words a row and a 4-byte scale. */
    static double dataFactor(TrainedModel m) {
        long fp32 = 0, packed = 0;
        for (int[] s : TrainedModel.parameterShapes(m.layers()).values()) fp32 += 4 * NamedArray.elementCount(s);
        packed = fp32;
        for (PackedLayer q : PackedFormat.quantizedLayers(m.network())) {
            packed += 4 * (long) NamedArray.elementCount(q.packedShape()) + 4 - 4 * NamedArray.elementCount(q.shape());
        }
        return fp32 / (double) packed;
    }
}
