package org.wrpn.export;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import org.wrpn.BadInputException;
import org.wrpn.FlagEnum;
import org.wrpn.train.AtomicFiles;
import org.wrpn.train.StorageException;

/**
 * `wrpn export`: a checkpoint as an ONNX model or a packed export. The checkpoint is read and checked
 * whole and the output built in memory before anything is written; the file is then written to a
 * temporary name, fsynced and renamed (AtomicFiles), so a failure leaves no partial output.
 */
public final class Exporter {
    /** The --format values. */
    public enum Format implements FlagEnum {
        ONNX,
        PACKED;

        public static Format parse(String s) {
            return FlagEnum.parse(Format.class, s, "--format must be onnx or packed; got ");
        }
    }

    /** What was written: the file, its size, and the model's name, width and class count. */
    public record Written(Path file, long bytes, String model, double width, int classes) {}

    private Exporter() {}

    /**
     * Exports the checkpoint (sidecar, weights file or run directory). classNames null takes them from
     * the data set's name; commit is the wrpn commit recorded in the output's metadata.
     */
    public static Written export(Path checkpoint, Format format, Path out, List<String> classNames, String commit) {
        TrainedModel m = TrainedModel.load(checkpoint);
        ExportInfo info = ExportInfo.of(m, classNames, commit);
        try {
            switch (format) {
                case ONNX -> {
                    byte[] model = OnnxExporter.export(m, info).toByteArray();
                    prepare(out);
                    AtomicFiles.writeBytes(out, model);
                }
                case PACKED -> {
                    prepare(out);
                    PackedModel.write(m, info, out);
                }
            }
            return new Written(out, Files.size(out), m.network().model(), m.network().widthMultiplier(), m.network().classes());
        } catch (NoSuchFileException e) {
            throw new BadInputException("cannot write " + out + ": no file can be created there (no such file or directory)", e);
        } catch (FileAlreadyExistsException e) {
            throw new BadInputException("cannot write " + out + ": " + e.getFile() + " is a file, not a directory", e);
        } catch (IOException e) {
            throw new BadInputException("cannot write " + out + ": " + StorageException.cause(e), e);
        }
    }

    /** Makes the output's directory; refuses a directory as the output. */
    private static void prepare(Path out) throws IOException {
        if (Files.isDirectory(out)) throw new BadInputException("cannot write " + out + ": it is a directory; --out names a file");
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
    }
}
