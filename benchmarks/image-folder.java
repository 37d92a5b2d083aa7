import java.nio.file.Path;
import org.wrpn.bench.SyntheticImages;

/**
 * Writes a small image folder of generated photos: java -cp WRPN_JAR benchmarks/image-folder.java DIR
 * [CLASSES PER_CLASS PER_CLASS_VAL WIDTH HEIGHT] (defaults: 2 classes, 4 train and 1 val image each, 224x224).
 */
class ImageFolder {
    public static void main(String[] a) {
        int[] v = {2, 4, 1, 224, 224};
        for (int i = 1; i < a.length && i <= v.length; i++) v[i - 1] = Integer.parseInt(a[i]);
        SyntheticImages.writeFolder(Path.of(a[0]), v[0], v[1], v[2], v[3], v[4], 1);
    }
}
